/**
 * useVirtualList: renders only the rows a scroll container shows (plus an overscan), for chat histories of any
 * length. Rows are measured after they render (and whenever they resize), the layout (VirtualLayout) is
 * corrected, and the view stays where the reader is: pinned to the bottom while they are at the bottom (new
 * messages scroll into view), otherwise anchored on the rows they are reading, even when rows above them
 * change height.
 *
 * Cost per update (a 500-messages-per-second burst renders one update per message): the key list grows by the
 * appended rows only (no rebuild of 10,000 keys), and no row height is read during Vue's flush. A ResizeObserver
 * on each rendered row reports its border-box height once the browser has laid it out (new rows, and rows whose
 * content changed height), in the same frame before paint, so the layout is corrected without forcing a
 * synchronous reflow per update. Without ResizeObserver (a test DOM), rows not measured yet are read after the
 * update, once per animation frame.
 *
 * The template puts `scroller` on the scrolling element, a spacer of `total` px inside it, the rows of
 * `visible` (each with `data-index`) in a block translated down by `top`, and calls `onScroll` on scroll.
 */
import {
  computed,
  nextTick,
  onBeforeUnmount,
  onMounted,
  onUpdated,
  ref,
  shallowRef,
  watch,
  type Ref,
} from 'vue';
import { VirtualLayout } from './virtual-layout.ts';

export interface VirtualListOptions<T> {
  readonly items: () => readonly T[];
  readonly key: (item: T) => string;
  /** estimated row height before a row is measured, px */
  readonly estimate?: number;
  readonly overscan?: number;
  /** viewport height to assume when the container has none (not laid out yet, or a test DOM) */
  readonly fallbackViewport?: number;
}

export interface VirtualRow<T> {
  readonly item: T;
  readonly index: number;
}

/** within this many px of the end counts as "at the bottom" */
const BOTTOM_SLACK = 24;

export function useVirtualList<T>(options: VirtualListOptions<T>) {
  const layout = new VirtualLayout(options.estimate);
  const scroller: Ref<HTMLElement | null> = ref(null);
  const version = ref(0);
  const scrollTop = ref(0);
  const viewport = ref(0);
  const atBottom = ref(true);
  const resize = shallowRef<ResizeObserver | undefined>();
  const overscan = options.overscan ?? 6;

  const height = (): number => viewport.value || options.fallbackViewport || 800;

  const range = computed(() => {
    void version.value;
    return layout.range(scrollTop.value, height(), overscan);
  });

  const visible = computed<VirtualRow<T>[]>(() => {
    const items = options.items();
    const { start, end } = range.value;
    const rows: VirtualRow<T>[] = [];
    for (let index = start; index < end; index++) {
      const item = items[index];
      if (item !== undefined) rows.push({ item, index });
    }
    return rows;
  });

  const total = computed(() => {
    void version.value;
    return layout.total;
  });

  const top = computed(() => {
    void version.value;
    return layout.offsetOf(range.value.start);
  });

  /** The list changed: append the new keys when rows were only added at the end, else replace them all. */
  function syncKeys(): void {
    const items = options.items();
    const had = layout.count;
    const appended =
      had > 0 &&
      items.length > had &&
      layout.keyAt(0) === options.key(items[0] as T) &&
      layout.keyAt(had - 1) === options.key(items[had - 1] as T);
    if (appended) {
      const keys: string[] = [];
      for (let i = had; i < items.length; i++) keys.push(options.key(items[i] as T));
      layout.appendKeys(keys);
    } else {
      const keys = new Array<string>(items.length);
      for (let i = 0; i < items.length; i++) keys[i] = options.key(items[i] as T);
      layout.setKeys(keys);
    }
    version.value++;
  }

  function readScroll(): void {
    const el = scroller.value;
    if (!el) return;
    scrollTop.value = el.scrollTop;
    viewport.value = el.clientHeight;
  }

  function stickToBottom(): void {
    const el = scroller.value;
    if (!el) return;
    el.scrollTop = Math.max(0, layout.total - height());
    scrollTop.value = el.scrollTop;
    atBottom.value = true;
  }

  /**
   * Records rows' heights (each `[row element, height]`, 0: read it now) and keeps the reader's place: pinned to
   * the bottom, or the rows above the first one in view growing or shrinking move the scroll position with them.
   */
  function applyHeights(rows: Iterable<readonly [HTMLElement, number]>): void {
    const el = scroller.value;
    if (!el) return;
    const first = layout.indexAt(scrollTop.value);
    let above = 0;
    let changed = false;
    for (const [row, size] of rows) {
      if (!row.isConnected || row.dataset.index === undefined) continue;
      const index = Number(row.dataset.index);
      const delta = layout.setHeight(index, size > 0 ? size : row.offsetHeight);
      if (delta === 0) continue;
      changed = true;
      if (index < first) above += delta;
    }
    if (!changed) return;
    version.value++;
    if (atBottom.value) stickToBottom();
    else if (above !== 0) {
      el.scrollTop += above;
      scrollTop.value = el.scrollTop;
    }
  }

  /** Reads the heights of the rendered rows not measured yet (every row with `all`). */
  function measure(all = false): void {
    const el = scroller.value;
    if (!el) return;
    const rows: [HTMLElement, number][] = [];
    for (const row of el.querySelectorAll<HTMLElement>('[data-index]'))
      if (all || !layout.isMeasured(Number(row.dataset.index))) rows.push([row, 0]);
    applyHeights(rows);
  }

  let frame: number | undefined;
  /** One measurement per animation frame, however many updates came in it. */
  function measureSoon(): void {
    if (typeof requestAnimationFrame !== 'function') {
      measure();
      return;
    }
    if (frame !== undefined) return;
    frame = requestAnimationFrame(() => {
      frame = undefined;
      measure();
    });
  }

  function onScroll(): void {
    readScroll();
    atBottom.value = scrollTop.value + height() >= layout.total - BOTTOM_SLACK;
  }

  /** Scrolls so that row `index` is in view (a third down from the top), e.g. a search result. */
  function scrollToIndex(index: number): void {
    const el = scroller.value;
    if (!el) return;
    el.scrollTop = Math.max(0, layout.offsetOf(index) - height() / 3);
    atBottom.value = false;
    readScroll();
    void nextTick(() => {
      measure();
    });
  }

  watch(
    () => {
      const items = options.items();
      const last = items[items.length - 1];
      const first = items[0];
      return [
        items.length,
        first === undefined ? '' : options.key(first),
        last === undefined ? '' : options.key(last),
      ];
    },
    () => {
      const wasAtBottom = atBottom.value;
      syncKeys();
      void nextTick(() => {
        if (wasAtBottom) stickToBottom();
        if (!resize.value) measureSoon();
      });
    },
    { immediate: true },
  );

  /** rows the ResizeObserver watches (the rendered ones; detached ones are let go after each update) */
  const observed = new Set<HTMLElement>();

  onMounted(() => {
    readScroll();
    stickToBottom();
    if (typeof ResizeObserver !== 'undefined') {
      resize.value = new ResizeObserver((entries) => {
        const rows: [HTMLElement, number][] = [];
        for (const entry of entries) {
          const target = entry.target as HTMLElement;
          if (target === scroller.value) {
            readScroll();
            continue;
          }
          rows.push([target, entry.borderBoxSize[0]?.blockSize ?? 0]);
        }
        applyHeights(rows);
      });
      if (scroller.value) resize.value.observe(scroller.value);
    }
    void nextTick(() => {
      measure(true);
    });
  });

  onUpdated(() => {
    const observer = resize.value;
    const el = scroller.value;
    if (!observer || !el) {
      measureSoon();
      return;
    }
    // Rows come and go as the list scrolls: observe the new ones (their first report is their height), forget the
    // ones gone from the DOM.
    for (const row of observed) {
      if (row.isConnected) continue;
      observer.unobserve(row);
      observed.delete(row);
    }
    for (const row of el.querySelectorAll<HTMLElement>('[data-index]')) {
      if (observed.has(row)) continue;
      observed.add(row);
      observer.observe(row);
    }
  });

  onBeforeUnmount(() => {
    resize.value?.disconnect();
    observed.clear();
    if (frame !== undefined && typeof cancelAnimationFrame === 'function') cancelAnimationFrame(frame);
  });

  return { scroller, visible, total, top, atBottom, onScroll, scrollToIndex, stickToBottom, layout };
}
