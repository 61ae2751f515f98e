import { describe, expect, it, vi } from 'vitest';

import { GatewayMetrics, Registry } from '../../gateway/metrics.ts';

describe('Prometheus text format', () => {
  it('writes HELP and TYPE once per family, labels sorted and escaped', () => {
    const registry = new Registry();
    const counter = registry.counter('sip_total', 'SIP messages.');
    counter.inc({ side: 'ws', method: 'MESSAGE' });
    counter.inc({ method: 'MESSAGE', side: 'ws' }, 2);
    counter.inc({ side: 'udp', method: 'a"b\\c\nd' });
    const gauge = registry.gauge('open', 'Open things.', () => 3);
    expect(gauge.get()).toBe(3);
    expect(registry.render()).toBe(
      [
        '# HELP sip_total SIP messages.',
        '# TYPE sip_total counter',
        'sip_total{method="MESSAGE",side="ws"} 3',
        'sip_total{method="a\\"b\\\\c\\nd",side="udp"} 1',
        '# HELP open Open things.',
        '# TYPE open gauge',
        'open 3',
        '',
      ].join('\n'),
    );
  });

  it('writes histograms as cumulative buckets with +Inf, _sum and _count', () => {
    const registry = new Registry();
    const histogram = registry.histogram('latency_seconds', 'Latency.', [0.1, 1]);
    histogram.observe(0.05, { method: 'MESSAGE' });
    histogram.observe(0.5, { method: 'MESSAGE' });
    histogram.observe(5, { method: 'MESSAGE' });
    expect(registry.render().split('\n').slice(2, 7)).toEqual([
      'latency_seconds_bucket{method="MESSAGE",le="0.1"} 1',
      'latency_seconds_bucket{method="MESSAGE",le="1"} 2',
      'latency_seconds_bucket{method="MESSAGE",le="+Inf"} 3',
      'latency_seconds_sum{method="MESSAGE"} 5.55',
      'latency_seconds_count{method="MESSAGE"} 3',
    ]);
  });

  it('refuses bad names, duplicates and unordered buckets', () => {
    const registry = new Registry();
    registry.counter('x_total', 'x');
    expect(() => registry.counter('x_total', 'again')).toThrow(TypeError);
    expect(() => registry.gauge('bad-name', 'x')).toThrow(TypeError);
    expect(() => registry.histogram('h', 'h', [1, 0.5])).toThrow(TypeError);
  });

  it('labels messages by side and method or status class, unknown methods as other', () => {
    expect(GatewayMetrics.labels('ws', { kind: 'request', method: 'MESSAGE' })).toEqual({
      side: 'ws',
      kind: 'request',
      method: 'MESSAGE',
    });
    expect(GatewayMetrics.labels('udp', { kind: 'request', method: 'XYZZY' }).method).toBe('other');
    expect(GatewayMetrics.labels('tcp', { kind: 'response', status: 487 })).toEqual({
      side: 'tcp',
      kind: 'response',
      class: '4xx',
    });
  });

  it('hands out one frozen label set per side and method or class, so the hot path builds no key string', () => {
    const message = GatewayMetrics.labels('ws', { kind: 'request', method: 'MESSAGE' });
    expect(GatewayMetrics.labels('ws', { kind: 'request', method: 'MESSAGE' })).toBe(message);
    expect(GatewayMetrics.labels('ws', { kind: 'request', method: 'XYZZY' })).toBe(
      GatewayMetrics.labels('ws', { kind: 'request', method: 'FOO' }),
    );
    expect(GatewayMetrics.labels('udp', { kind: 'response', status: 200 })).toBe(
      GatewayMetrics.labels('udp', { kind: 'response', status: 202 }),
    );
    expect(Object.isFrozen(message)).toBe(true);

    // Once a series exists, incrementing it through an interned or a one-label set sorts and joins nothing.
    const registry = new Registry();
    const counter = registry.counter('sip_total', 'SIP messages.');
    const drops = registry.counter('drops_total', 'Drops.');
    counter.inc(message);
    drops.inc({ reason: 'garbage' });
    const sort = vi.spyOn(Array.prototype, 'sort');
    const join = vi.spyOn(Array.prototype, 'join');
    try {
      for (let i = 0; i < 10; i++) {
        counter.inc(GatewayMetrics.labels('ws', { kind: 'request', method: 'MESSAGE' }));
        drops.inc({ reason: 'garbage' });
      }
      expect(sort).not.toHaveBeenCalled();
      expect(join).not.toHaveBeenCalled();
    } finally {
      sort.mockRestore();
      join.mockRestore();
    }
    // Interned, fresh and reordered objects of the same set are one series, rendered as before.
    counter.inc({ side: 'ws', kind: 'request', method: 'MESSAGE' });
    counter.inc({ method: 'MESSAGE', kind: 'request', side: 'ws' }, 2);
    counter.inc(GatewayMetrics.labels('ws', { kind: 'response', status: 200 }));
    expect(counter.get({ kind: 'request', method: 'MESSAGE', side: 'ws' })).toBe(14);
    expect(drops.get({ reason: 'garbage' })).toBe(11);
    expect(registry.render()).toBe(
      [
        '# HELP sip_total SIP messages.',
        '# TYPE sip_total counter',
        'sip_total{kind="request",method="MESSAGE",side="ws"} 14',
        'sip_total{class="2xx",kind="response",side="ws"} 1',
        '# HELP drops_total Drops.',
        '# TYPE drops_total counter',
        'drops_total{reason="garbage"} 11',
        '',
      ].join('\n'),
    );
  });

  it('exposes every gateway family', () => {
    const text = new GatewayMetrics().registry.render();
    for (const name of [
      'gateway_ws_connections',
      'gateway_flows',
      'gateway_sip_messages_in_total',
      'gateway_sip_messages_out_total',
      'gateway_relay_latency_seconds',
      'gateway_drops_total',
      'gateway_udp_retransmissions_total',
    ])
      expect(text).toContain(`# TYPE ${name} `);
  });
});
