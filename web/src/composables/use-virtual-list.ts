/**
 * useVirtualList: renders only the rows a scroll container shows (plus an overscan), for chat histories of any
 * length. Rows are measured after they render (and whenever they resize), the layout (VirtualLayout) is
 * corrected, and the view stays where the reader is: pinned to the bottom while they are at the bottom (new
 * messages scroll into view), otherwise anchored on the rows they are reading, even when rows above them
 * change height.
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

  function syncKeys(): void {
    const items = options.items();
    const keys = new Array<string>(items.length);
    for (let i = 0; i < items.length; i++) keys[i] = options.key(items[i] as T);
    layout.setKeys(keys);
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

  /** Reads the rendered rows' heights; keeps the reader's place. */
  function measure(): void {
    const el = scroller.value;
    if (!el) return;
    const first = layout.indexAt(scrollTop.value);
    let above = 0;
    let changed = false;
    for (const row of el.querySelectorAll<HTMLElement>('[data-index]')) {
      const index = Number(row.dataset.index);
      const delta = layout.setHeight(index, row.offsetHeight);
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
    void nextTick(measure);
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
        measure();
      });
    },
    { immediate: true },
  );

  onMounted(() => {
    readScroll();
    stickToBottom();
    if (typeof ResizeObserver !== 'undefined') {
      resize.value = new ResizeObserver(() => {
        readScroll();
        measure();
      });
      if (scroller.value) resize.value.observe(scroller.value);
    }
    void nextTick(measure);
  });

  onUpdated(() => {
    const observer = resize.value;
    const el = scroller.value;
    if (observer && el) {
      // Rows come and go as the list scrolls: observe exactly the ones rendered now.
      observer.disconnect();
      observer.observe(el);
      for (const row of el.querySelectorAll('[data-index]')) observer.observe(row);
    }
    measure();
  });

  onBeforeUnmount(() => {
    resize.value?.disconnect();
  });

  return { scroller, visible, total, top, atBottom, onScroll, scrollToIndex, stickToBottom, layout };
}
