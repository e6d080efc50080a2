// The VC operations, one file per concern; the command line imports this lazily.
export { opsContext, DEFAULT_SHUTDOWN_TIMEOUT_MS, vmFiles, type OpsContext } from './context.js';
export { createVcOp, makeResources, type CreateInput } from './create.js';
export { startOp, stopOp } from './power.js';
export { saveOp, restoreOp } from './snapshot.js';
export { destroyOp } from './destroy.js';
export { showOp, listOp, formatShow, formatList, vcView, type VcView, type VmView } from './view.js';
export { resolveVcImage, type BootFiles } from './image.js';
export { vmCmdline } from './cmdline.js';
export { vmDef, netDef, type VcState } from './vmdef.js';
