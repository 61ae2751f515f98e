import { describe, expect, it } from 'vitest';

import { clusterConfigProblem, mergeExpositions, workerConfig } from '../../gateway/cluster.ts';
import { gatewayConfig } from '../../gateway/config.ts';

describe('cluster: one /metrics text for every worker', () => {
  it('keeps each family once and labels every sample with its worker', () => {
    const text = (flows: number, ws: number): string =>
      [
        '# HELP gateway_flows Open flows.',
        '# TYPE gateway_flows gauge',
        `gateway_flows ${flows}`,
        '# HELP gateway_sip_messages_in_total Messages in.',
        '# TYPE gateway_sip_messages_in_total counter',
        `gateway_sip_messages_in_total{side="ws",method="MESSAGE"} ${ws}`,
        'gateway_sip_messages_in_total{} 1',
        '',
      ].join('\n');
    const merged = mergeExpositions([
      { worker: 0, text: text(2, 10) },
      { worker: 1, text: text(3, 7) },
    ]);
    expect(merged).toBe(
      [
        '# HELP gateway_flows Open flows.',
        '# TYPE gateway_flows gauge',
        'gateway_flows{worker="0"} 2',
        'gateway_flows{worker="1"} 3',
        '# HELP gateway_sip_messages_in_total Messages in.',
        '# TYPE gateway_sip_messages_in_total counter',
        'gateway_sip_messages_in_total{worker="0",side="ws",method="MESSAGE"} 10',
        'gateway_sip_messages_in_total{worker="0"} 1',
        'gateway_sip_messages_in_total{worker="1",side="ws",method="MESSAGE"} 7',
        'gateway_sip_messages_in_total{worker="1"} 1',
        '',
      ].join('\n'),
    );
  });
});

describe('cluster: each worker has SIP ports of its own', () => {
  const base = gatewayConfig({
    upstream: { host: '10.0.0.1', port: 5060, transport: 'udp' },
    sipUdp: { host: '0.0.0.0', port: 5070 },
    sipTcp: { host: '0.0.0.0', port: 0 },
    publicPorts: { udp: 15070, tcp: undefined, ws: 443 },
  });

  it('worker 0 keeps the configured ports; worker i adds i (port 0 stays ephemeral)', () => {
    expect(workerConfig(base, 0)).toEqual(base);
    const w2 = workerConfig(base, 2);
    expect(w2.sipUdp).toEqual({ host: '0.0.0.0', port: 5072 });
    expect(w2.sipTcp).toEqual({ host: '0.0.0.0', port: 0 });
    // What the PBX is told (Via, Path, Record-Route) must name that worker too; the WebSocket port is shared.
    expect(w2.publicPorts).toEqual({ udp: 15072, tcp: undefined, ws: 443 });
  });
});

describe('cluster: configurations that cannot work are refused at start', () => {
  const upstream = { host: '10.0.0.1', port: 5060, transport: 'udp' } as const;

  it('several workers need the MSRP TCP listener on a fixed port (sessions between workers go through it)', () => {
    const off = gatewayConfig({ upstream, msrpTcp: undefined });
    const ephemeral = gatewayConfig({ upstream, msrpTcp: { host: '0.0.0.0', port: 0, fallback: false } });
    expect(clusterConfigProblem(off, 2)).toMatch(/--workers 2 needs the MSRP TCP listener on a fixed port/);
    expect(clusterConfigProblem(ephemeral, 4)).toMatch(/--msrp-tcp/);
    // One process relays every session itself; the default (auto, 2855) serves a cluster.
    expect(clusterConfigProblem(off, 1)).toBeUndefined();
    expect(clusterConfigProblem(gatewayConfig({ upstream }), 2)).toBeUndefined();
  });
});
