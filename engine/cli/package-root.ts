// The default model lives in engine/assets.ts with the other package paths; common.ts imports it from here.
export { defaultModelDir } from '../assets';
