import { describe, expect, it } from 'vitest';

import {
  ConfigError,
  OPTIONS,
  envName,
  helpText,
  parseConfig,
  parseListen,
  parseUpstream,
} from '../../gateway/config.ts';

const config = (argv: string[], env: Record<string, string> = {}) => {
  const parsed = parseConfig(argv, env);
  if (parsed.help) throw new Error('unexpected --help');
  return parsed.config;
};

describe('gateway configuration', () => {
  it('--digest-algorithms: the order of the challenges, SHA-256 then MD5 by default', () => {
    expect(config([]).digestAlgorithms).toEqual(['SHA-256', 'MD5']);
    expect(config(['--digest-algorithms', 'md5,SHA-256']).digestAlgorithms).toEqual(['MD5', 'SHA-256']);
    expect(config([], { GATEWAY_DIGEST_ALGORITHMS: 'MD5' }).digestAlgorithms).toEqual(['MD5']);
    expect(() => config(['--digest-algorithms', 'SHA-1'])).toThrow(ConfigError);
    expect(() => config(['--digest-algorithms', 'MD5,md5'])).toThrow(/twice/);
  });

  it('reads flags, with defaults for the rest', () => {
    const c = config([
      '--upstream',
      'sip:10.0.0.5:5080;transport=tcp',
      '--port',
      '8443',
      '--sip-tcp',
      '5071',
    ]);
    expect(c.upstream).toEqual({ host: '10.0.0.5', port: 5080, transport: 'tcp' });
    expect(c.port).toBe(8443);
    expect(c.host).toBe('0.0.0.0');
    expect(c.sipTcp).toEqual({ host: '0.0.0.0', port: 5071 });
    expect(c.sipUdp).toEqual({ host: '0.0.0.0', port: 5070 });
    expect(c.usePath).toBe(true);
    expect(c.origins).toEqual([]);
    expect(c.allowMissingOrigin).toBe(false);
    expect(c.flowSecret).toBeUndefined();
    expect(c.limits.maxMessageBytes).toBe(65_536);
    expect(c.limits.pingIntervalMs).toBe(30_000);
    expect(c.workers).toBe(1);
    expect(config(['--workers', 'auto']).workers).toBe('auto');
    expect(() => config(['--workers', '0'])).toThrow(ConfigError);
  });

  it('reads every flag from its GATEWAY_ variable; flags win', () => {
    const env = {
      GATEWAY_UPSTREAM: 'sip:pbx.example.com',
      GATEWAY_PORT: '9000',
      GATEWAY_ORIGIN: 'https://a.example, https://b.example',
      GATEWAY_NO_PATH: 'yes',
      GATEWAY_ALLOW_MISSING_ORIGIN: '1',
      GATEWAY_PUBLIC_HOST: 'gw.example.com',
      GATEWAY_PUBLIC_UDP_PORT: '15060',
      GATEWAY_FLOW_SECRET: 'sixteen-chars-or-more',
      GATEWAY_SIP_UDP: '[::1]:5072',
      GATEWAY_MESSAGE_RATE: '20',
    };
    const c = config(['--port', '9001'], env);
    expect(c.port).toBe(9001);
    expect(c.upstream).toEqual({ host: 'pbx.example.com', port: 5060, transport: 'udp' });
    expect(c.origins).toEqual(['https://a.example', 'https://b.example']);
    expect(c.usePath).toBe(false);
    expect(c.allowMissingOrigin).toBe(true);
    expect(c.publicHost).toBe('gw.example.com');
    expect(c.publicPorts.udp).toBe(15060);
    expect(c.flowSecret).toBe('sixteen-chars-or-more');
    expect(c.sipUdp).toEqual({ host: '::1', port: 5072 });
    expect(c.limits.messageRate).toBe(20);
  });

  it('takes --origin repeated or as a comma list', () => {
    const c = config([
      '--upstream',
      'sip:1.2.3.4',
      '--origin',
      'https://a.example',
      '--origin',
      'https://b.example,https://c.example',
    ]);
    expect(c.origins).toEqual(['https://a.example', 'https://b.example', 'https://c.example']);
  });

  it('maps every flag to an environment variable listed in --help', () => {
    const help = helpText();
    for (const option of OPTIONS) {
      expect(help).toContain(`--${option.flag}`);
      if (option.flag !== 'help') expect(help).toContain(envName(option.flag));
    }
    expect(envName('sip-udp')).toBe('GATEWAY_SIP_UDP');
    expect(parseConfig(['--help'])).toEqual({ help: true });
    expect(parseConfig(['-h'])).toEqual({ help: true });
  });

  it('says what is wrong', () => {
    const bad: [string[], Record<string, string>, RegExp][] = [
      [['--upstream', 'sip:1.2.3.4;transport=tls'], {}, /udp or tcp/],
      [['--upstream', 'sip:x.invalid'], {}, /\.invalid/],
      [['--upstream', 'sip:1.2.3.4', '--port', '70000'], {}, /out of range/],
      [['--upstream', 'sip:1.2.3.4', '--tls-cert', 'c.pem'], {}, /go together/],
      [['--upstream', 'sip:1.2.3.4', '--flow-secret', 'short'], {}, /16 characters/],
      [['--upstream', 'sip:1.2.3.4', '--bogus'], {}, /bogus/],
      [['--upstream', 'sip:1.2.3.4', '--sip-udp', 'off'], {}, /needs --sip-udp/],
      [['--upstream', 'sip:1.2.3.4'], { GATEWAY_NO_PATH: 'maybe' }, /boolean/],
      [['--upstream', 'sip:1.2.3.4', '--log-level', 'loud'], {}, /unknown level/],
    ];
    for (const [argv, env, message] of bad)
      expect(() => parseConfig(argv, env), argv.join(' ')).toThrow(message);
    expect(() => parseConfig(['--port', 'x'], {})).toThrow(ConfigError);
  });

  it('parses listen addresses and upstream URIs', () => {
    expect(parseListen('5070', 'x', '127.0.0.1')).toEqual({ host: '127.0.0.1', port: 5070 });
    expect(parseListen('10.1.1.1:0', 'x', '0.0.0.0')).toEqual({ host: '10.1.1.1', port: 0 });
    expect(parseListen('off', 'x', '0.0.0.0')).toBeUndefined();
    expect(parseUpstream('127.0.0.1:5061;transport=TCP')).toEqual({
      host: '127.0.0.1',
      port: 5061,
      transport: 'tcp',
    });
    expect(parseUpstream('sip:[::1]:5060')).toEqual({ host: '::1', port: 5060, transport: 'udp' });
  });
});

describe('embedded mode configuration', () => {
  it('without --upstream: the built-in core, SIP on 5060, ./data, domain localhost', () => {
    const parsed = parseConfig([], {});
    if (parsed.help) throw new Error('unexpected --help');
    const c = parsed.config;
    expect(c.upstream).toBeUndefined();
    expect(c.sipUdp).toEqual({ host: '0.0.0.0', port: 5060 });
    expect(c.sipTcp).toEqual({ host: '0.0.0.0', port: 5060 });
    expect(c.dataDir).toBe('./data');
    expect(c.domain).toBe('localhost');
    expect(c.branchTimeoutMs).toBe(10_000);
    expect(c.staticDir).toBe('dist');
  });

  it('reads the embedded flags and keeps 5070 beside a PBX', () => {
    const parsed = parseConfig(
      [
        '--data-dir',
        '/var/lib/chat',
        '--domain',
        'Chat.Example.com',
        '--branch-timeout',
        '500',
        '--static',
        'off',
      ],
      {},
    );
    if (parsed.help) throw new Error('unexpected --help');
    expect(parsed.config.dataDir).toBe('/var/lib/chat');
    expect(parsed.config.domain).toBe('chat.example.com');
    expect(parsed.config.branchTimeoutMs).toBe(500);
    expect(parsed.config.staticDir).toBeUndefined();
    const pbx = parseConfig(['--upstream', 'sip:10.0.0.5'], {});
    if (pbx.help) throw new Error('unexpected --help');
    expect(pbx.config.sipUdp?.port).toBe(5070);
    expect(() => parseConfig(['--domain', 'bad domain'], {})).toThrow(/not a host name/);
  });
});

describe('MSRP relay configuration', () => {
  const msrp = (argv: string[], env: Record<string, string> = {}) => {
    const parsed = parseConfig(argv, env);
    if (parsed.help) throw new Error('unexpected --help');
    return parsed.config.msrpTcp;
  };

  it('listens for MSRP peers on 2855 by default, falling back to a free port when it is taken', () => {
    expect(msrp([])).toEqual({ host: '0.0.0.0', port: 2855, fallback: true });
    expect(msrp(['--upstream', 'sip:10.0.0.5'])).toEqual({ host: '0.0.0.0', port: 2855, fallback: true });
  });

  it('takes --msrp-tcp [HOST:]PORT|auto|off, or GATEWAY_MSRP_TCP; an explicit port is strict', () => {
    expect(msrp(['--msrp-tcp', '2856'])).toEqual({ host: '0.0.0.0', port: 2856, fallback: false });
    expect(msrp(['--host', '127.0.0.1', '--msrp-tcp', '2856'])).toEqual({
      host: '127.0.0.1',
      port: 2856,
      fallback: false,
    });
    expect(msrp(['--msrp-tcp', '[::1]:9000'])).toEqual({ host: '::1', port: 9000, fallback: false });
    expect(msrp(['--msrp-tcp', 'off'])).toBeUndefined();
    expect(msrp([], { GATEWAY_MSRP_TCP: '10.0.0.1:2900' })).toEqual({
      host: '10.0.0.1',
      port: 2900,
      fallback: false,
    });
    expect(msrp(['--msrp-tcp', 'auto'], { GATEWAY_MSRP_TCP: 'off' })).toEqual({
      host: '0.0.0.0',
      port: 2855,
      fallback: true,
    });
    expect(() => parseConfig(['--msrp-tcp', 'nope'], {})).toThrow(/--msrp-tcp/);
    expect(helpText()).toContain('GATEWAY_MSRP_TCP');
  });
});
