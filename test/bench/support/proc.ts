/**
 * What the benchmarks read from /proc about their child processes (CPU ticks, memory, process groups), and the
 * small statistics they share. Linux only, like the benchmarks.
 */
import { readdirSync, readFileSync } from 'node:fs';

/** Clock ticks per second of /proc/PID/stat times (USER_HZ, 100 on Linux). */
export const CLK_TCK = 100;

export interface ProcStat {
  pid: number;
  comm: string;
  ppid: number;
  pgrp: number;
  /** utime + stime */
  ticks: number;
  systemTicks: number;
}

export function readStat(pid: number): ProcStat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch {
    return undefined;
  }
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  const rest = text.slice(close + 2).split(' ');
  // rest[0] = state (field 3): ppid 4, pgrp 5, utime 14, stime 15.
  return {
    pid,
    comm: text.slice(open + 1, close),
    ppid: Number(rest[1]),
    pgrp: Number(rest[2]),
    ticks: Number(rest[11]) + Number(rest[12]),
    systemTicks: Number(rest[12]),
  };
}

export function allPids(): number[] {
  return readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .map(Number);
}

/** The processes of group `pgrp` whose command is `comm`. */
export function groupPids(pgrp: number, comm: string): number[] {
  const out: number[] = [];
  for (const pid of allPids()) {
    const stat = readStat(pid);
    if (stat !== undefined && stat.pgrp === pgrp && stat.comm === comm) out.push(pid);
  }
  return out;
}

export function cpuTicks(pids: readonly number[]): number {
  let sum = 0;
  for (const pid of pids) sum += readStat(pid)?.ticks ?? 0;
  return sum;
}

export function systemTicks(pids: readonly number[]): number {
  let sum = 0;
  for (const pid of pids) sum += readStat(pid)?.systemTicks ?? 0;
  return sum;
}

/** A field of /proc/PID/status in kB (VmRSS, VmHWM, …); 0 when the process is gone. */
export function statusKb(pid: number, field: string): number {
  try {
    const text = readFileSync(`/proc/${pid}/status`, 'latin1');
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text);
    return m === null ? 0 : Number(m[1]);
  } catch {
    return 0;
  }
}

/** Proportional set size in kB (shared pages divided among their sharers). */
export function pssKb(pid: number): number {
  try {
    const m = /^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'latin1'));
    return m === null ? 0 : Number(m[1]);
  } catch {
    return 0;
  }
}

export const sumKb = (pids: readonly number[], f: (pid: number) => number): number =>
  pids.reduce((a, p) => a + f(p), 0);

/** Signals a whole process group (a child started `detached`); nothing when it is gone. */
export function killGroup(pgrp: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgrp, signal);
  } catch {
    // Already gone.
  }
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}
