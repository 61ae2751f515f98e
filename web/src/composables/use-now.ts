/**
 * The current time as a ref that ticks every `interval` ms while the component is mounted (countdowns,
 * "today" labels). One timer per user; cleared on unmount.
 */
import { onBeforeUnmount, onMounted, ref, type Ref } from 'vue';

export function useNow(interval = 1000): Ref<number> {
  const now = ref(Date.now());
  let timer: ReturnType<typeof setInterval> | undefined;
  onMounted(() => {
    timer = setInterval(() => {
      now.value = Date.now();
    }, interval);
  });
  onBeforeUnmount(() => {
    clearInterval(timer);
  });
  return now;
}
