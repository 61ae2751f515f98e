// The two platform APIs the sans-IO core relies on. Both exist, identically, in every browser and in Node ≥ 11,
// so they are declared here rather than pulling in the DOM or Node type libraries (which would also expose
// sockets, timers and clocks the core must not touch).
declare class TextEncoder {
  encode(input?: string): Uint8Array;
  encodeInto(input: string, dest: Uint8Array): { read: number; written: number };
}
declare class TextDecoder {
  constructor(label?: string, options?: { fatal?: boolean; ignoreBOM?: boolean });
  decode(input?: Uint8Array, options?: { stream?: boolean }): string;
}
