// The inventory example from the boot-service issue, used across tests.
export const sample = `cluster: lab
network:
  subnet: 10.77.0.0/24
  router: 10.77.0.1        # optional
  dns: [10.77.0.1]         # optional
servers: [10.77.0.1]       # every replica of the boot service
defaults:
  image: debian-bookworm-amd64
  kernelArgs: console=ttyS0
nodes:
  - name: node01
    mac: 52:54:00:77:00:01
    ip: 10.77.0.11
    role: linux
  - name: node02
    mac: 52-54-00-77-00-02
    ip: 10.77.0.12
    role: xen-dom0
`;
