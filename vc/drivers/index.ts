// The hypervisor drivers, one registered object each; the VC code picks one by name
// and knows nothing else about the hypervisor.
import type { HypervisorDriver } from './driver.js';
import { LibvirtDriver, type LibvirtOptions } from './libvirt.js';

export type DriverOptions = LibvirtOptions;

export const DRIVERS: Record<string, (o: DriverOptions) => HypervisorDriver> = {
  libvirt: (o) => new LibvirtDriver(o),
};

export function driverFor(name: string, o: DriverOptions = {}): HypervisorDriver {
  const make = DRIVERS[name];
  if (!make) throw new Error(`unknown VC driver '${name}': one of ${Object.keys(DRIVERS).join(', ')}`);
  return make(o);
}
