import { describe, expect, it } from 'vitest';
import {
  MAX_TIMER_DELAY,
  Scheduler,
  STUCK_DELAY,
  STUCK_LIMIT,
  type CoreTransmission,
} from '../../../web/src/drivers/index.ts';
import { FakeClock } from '../../support/fake-clock.ts';
import { seededRandom } from '../../support/seeded-random.ts';
import { FakeCore, type FakeCoreEvent } from './fakes.ts';

function setup(start = 1_000) {
  const clock = new FakeClock(start);
  const core = new FakeCore();
  const sent: CoreTransmission[] = [];
  const events: FakeCoreEvent[] = [];
  const errors: unknown[] = [];
  const scheduler = new Scheduler({
    core,
    clock,
    transmit: (t) => sent.push(t),
    onEvent: (e) => events.push(e),
    onError: (e) => errors.push(e),
  });
  scheduler.start();
  return { clock, core, sent, events, errors, scheduler };
}

describe('Scheduler', () => {
  it('arms one timer at the core deadline and leaves it alone while the deadline stays the same', () => {
    const { clock, core, scheduler } = setup();
    core.deadline = 1_500;
    scheduler.flush();
    expect(clock.pending).toBe(1);
    expect(clock.deadlines).toEqual([1_500]);
    expect(scheduler.armedDeadline).toBe(1_500);
    const { setCount, clearCount } = clock;
    for (let i = 0; i < 10; i++) scheduler.run((c, now) => c.receive('x', now));
    expect(clock.setCount).toBe(setCount);
    expect(clock.clearCount).toBe(clearCount);
    expect(clock.pending).toBe(1);
  });

  it('re-arms (one clear, one set) only when the deadline changes, and disarms when there is none', () => {
    const { clock, core, scheduler } = setup();
    core.deadline = 2_000;
    scheduler.flush();
    expect([clock.setCount, clock.clearCount]).toEqual([1, 0]);
    core.deadline = 1_200;
    scheduler.flush();
    expect([clock.setCount, clock.clearCount]).toEqual([2, 1]);
    expect(clock.deadlines).toEqual([1_200]);
    core.deadline = undefined;
    scheduler.flush();
    expect([clock.setCount, clock.clearCount]).toEqual([2, 2]);
    expect(clock.pending).toBe(0);
    expect(scheduler.armedDeadline).toBeUndefined();
    scheduler.flush();
    expect([clock.setCount, clock.clearCount]).toEqual([2, 2]);
  });

  it('fires at the deadline: handleTimers(now), then drains and re-arms for the next deadline', () => {
    const { clock, core, sent, events, scheduler } = setup();
    core.deadline = 1_500;
    core.onTimers = (now) => {
      core.transmit(`retransmit at ${now}`);
      core.deadline = now >= 1_900 ? undefined : now + 400;
    };
    scheduler.flush();
    clock.advance(499);
    expect(core.methods).toEqual([]);
    clock.advance(1);
    expect(core.calls).toEqual([{ method: 'handleTimers', now: 1_500 }]);
    expect(new TextDecoder().decode(sent[0]!.data)).toBe('retransmit at 1500');
    expect(events).toEqual([{ type: 'timers', now: 1_500 }]);
    expect(clock.deadlines).toEqual([1_900]);
    clock.advance(10_000);
    expect(core.calls.map((c) => c.now)).toEqual([1_500, 1_900]);
    expect(clock.pending).toBe(0);
  });

  it('never has more than one timer armed, whatever the inputs (seeded random walk)', () => {
    const { clock, core, scheduler } = setup(0);
    const random = seededRandom(7);
    core.onTimers = (now) => {
      core.deadline = random() < 0.3 ? undefined : now + Math.floor(random() * 1_000);
    };
    for (let step = 0; step < 2_000; step++) {
      const r = random();
      if (r < 0.4) {
        scheduler.run((c, now) => {
          c.receive('in', now);
          core.deadline = random() < 0.2 ? undefined : now + Math.floor(random() * 2_000);
        });
      } else if (r < 0.6) {
        scheduler.run((c, now) => c.receive('no change', now));
      } else {
        clock.advance(Math.floor(random() * 500));
      }
      expect(clock.pending).toBeLessThanOrEqual(1);
      // The armed timer is always at the core's deadline (a past deadline is armed to fire at once).
      if (core.deadline === undefined) expect(clock.pending).toBe(0);
      else expect(scheduler.armedDeadline).toBe(core.deadline);
    }
  });

  it('a deadline in the past fires at once (delay 0), not synchronously inside flush', () => {
    const { clock, core, scheduler } = setup(5_000);
    core.deadline = 4_000;
    scheduler.flush();
    expect(clock.delays.at(-1)).toBe(0);
    expect(core.methods).toEqual([]);
    core.onTimers = () => (core.deadline = undefined);
    clock.advance(0);
    expect(core.calls).toEqual([{ method: 'handleTimers', now: 5_000 }]);
  });

  it('a core that keeps a past deadline after handleTimers is reported and polled, not spun on', () => {
    const { clock, core, errors, scheduler } = setup(0);
    core.deadline = 10;
    core.onTimers = () => {
      core.deadline = 10; // a buggy core: never consumes its timer
    };
    scheduler.flush();
    clock.advance(10);
    expect(core.calls.length).toBe(STUCK_LIMIT);
    expect(errors).toHaveLength(1);
    expect(clock.delays.at(-1)).toBe(STUCK_DELAY);
    clock.advance(STUCK_DELAY);
    expect(core.calls.length).toBe(STUCK_LIMIT + 1);
    expect(errors).toHaveLength(1);
    // Once the core behaves again, timers run on time.
    core.onTimers = (now) => {
      core.deadline = now + 5;
    };
    clock.advance(STUCK_DELAY);
    expect(clock.deadlines).toEqual([clock.now() + 5]);
    clock.advance(5);
    expect(clock.deadlines).toEqual([clock.now() + 5]);
  });

  it('caps a far deadline at the largest setTimeout delay and re-arms when it fires early', () => {
    const { clock, core, scheduler } = setup(0);
    const far = MAX_TIMER_DELAY * 2 + 10;
    core.deadline = far;
    scheduler.flush();
    expect(clock.delays.at(-1)).toBe(MAX_TIMER_DELAY);
    clock.advance(MAX_TIMER_DELAY);
    expect(core.calls).toEqual([{ method: 'handleTimers', now: MAX_TIMER_DELAY }]);
    expect(clock.deadlines).toEqual([MAX_TIMER_DELAY * 2]);
    clock.advance(MAX_TIMER_DELAY);
    expect(clock.deadlines).toEqual([far]);
  });

  it('a callback that feeds the core during a flush is drained after, in order, without nesting', () => {
    const clock = new FakeClock(0);
    const core = new FakeCore();
    const log: string[] = [];
    let depth = 0;
    let maxDepth = 0;
    const scheduler: Scheduler<FakeCore> = new Scheduler({
      core,
      clock,
      transmit: (t) => {
        depth++;
        maxDepth = Math.max(maxDepth, depth);
        const text = new TextDecoder().decode(t.data);
        log.push(`send ${text}`);
        if (text === 'first') scheduler.run(() => core.transmit('from-callback'));
        depth--;
      },
      onEvent: (e) => {
        log.push(`event ${e.type}`);
        if (e.type === 'received') scheduler.run(() => core.transmit('from-listener'));
      },
    });
    scheduler.start();
    scheduler.run((c, now) => {
      c.receive('x', now);
      core.transmit('first');
      core.transmit('second');
    });
    expect(log).toEqual(['send first', 'send second', 'event received', 'send from-callback', 'send from-listener']);
    expect(maxDepth).toBe(1);
  });

  it('a listener that commands the core directly (a handle, no run()) is drained by the same flush', () => {
    const core = new FakeCore();
    const sent: string[] = [];
    // As an app answering IncomingRequest.accept() inside its 'incoming-request' listener: the core queues the
    // answer and nobody calls flush(); it must leave now, not at the next input or timer.
    const scheduler = new Scheduler({
      core,
      clock: new FakeClock(0),
      transmit: (t) => sent.push(new TextDecoder().decode(t.data)),
      onEvent: (e) => {
        if (e.type === 'received') core.transmit('200 OK');
      },
    });
    scheduler.start();
    scheduler.run((c, now) => c.receive('MESSAGE', now));
    expect(sent).toEqual(['200 OK']);
  });

  it('onFlushed runs once per flush, after both queues are empty, for inputs and timer rounds', () => {
    const clock = new FakeClock(0);
    const core = new FakeCore();
    const log: string[] = [];
    const errors: unknown[] = [];
    let fail = false;
    const scheduler = new Scheduler({
      core,
      clock,
      transmit: (t) => log.push(`send ${new TextDecoder().decode(t.data)}`),
      onEvent: (e) => log.push(`event ${e.type}`),
      onError: (e) => errors.push(e),
      onFlushed: () => {
        log.push(`flushed (queued ${core.outbox.length + core.events.length})`);
        if (fail) throw new Error('listener bug');
      },
    });
    scheduler.start();
    expect(log).toEqual(['flushed (queued 0)']);
    log.length = 0;
    scheduler.run((c, now) => {
      c.receive('x', now);
      c.transmit('a');
    });
    expect(log).toEqual(['send a', 'event received', 'flushed (queued 0)']);
    log.length = 0;
    core.deadline = 50;
    fail = true;
    scheduler.flush();
    clock.advance(50);
    expect(log).toEqual(['flushed (queued 0)', 'event timers', 'flushed (queued 0)']);
    expect(errors).toHaveLength(2); // reported, never thrown into the timer
  });

  it('reports exceptions from the core and from callbacks, and keeps the timer going', () => {
    const { clock, core, errors, scheduler } = setup(0);
    core.deadline = 100;
    core.onTimers = (now) => {
      core.deadline = now + 100;
      throw new Error('core bug');
    };
    scheduler.flush();
    clock.advance(100);
    expect(errors).toHaveLength(1);
    expect(clock.deadlines).toEqual([200]);
    clock.advance(100);
    expect(errors).toHaveLength(2);
  });

  it('run() returns the command result, rethrows its exception, and flushes either way', () => {
    const { core, sent, scheduler } = setup();
    expect(scheduler.run((c) => (c.transmit('a'), 42))).toBe(42);
    expect(sent).toHaveLength(1);
    expect(() =>
      scheduler.run((c) => {
        c.transmit('b');
        throw new TypeError('misuse');
      }),
    ).toThrow(TypeError);
    expect(sent).toHaveLength(2);
    void core;
  });

  it('stop() clears the timer; flushes still drain but arm nothing until start()', () => {
    const { clock, core, sent, scheduler } = setup();
    core.deadline = 3_000;
    scheduler.flush();
    scheduler.stop();
    expect(clock.pending).toBe(0);
    scheduler.run((c) => c.transmit('late'));
    expect(sent).toHaveLength(1);
    expect(clock.pending).toBe(0);
    scheduler.start();
    expect(clock.deadlines).toEqual([3_000]);
  });

  it('reports a non-finite deadline instead of arming a timer for it', () => {
    const { clock, core, errors, scheduler } = setup();
    core.deadline = Number.NaN;
    scheduler.flush();
    expect(clock.pending).toBe(0);
    expect(errors[0]).toBeInstanceOf(RangeError);
  });
});
