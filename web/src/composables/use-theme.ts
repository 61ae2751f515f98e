/**
 * Light and dark themes: "system" follows prefers-color-scheme (pure CSS), "light"/"dark" force one through
 * `data-theme` on the root element. The choice is kept in preferences.
 */
import { ref, watchEffect, type Ref } from 'vue';
import type { ThemeChoice } from '../drivers/index.ts';
import { useServices } from '../stores/services.ts';

const ORDER: readonly ThemeChoice[] = ['system', 'light', 'dark'];

export function useTheme(root: { dataset: DOMStringMap } = document.documentElement): {
  theme: Ref<ThemeChoice>;
  cycle: () => void;
} {
  const preferences = useServices().preferences;
  const theme = ref<ThemeChoice>(preferences.theme());
  watchEffect(() => {
    if (theme.value === 'system') delete root.dataset.theme;
    else root.dataset.theme = theme.value;
  });
  function cycle(): void {
    theme.value = ORDER[(ORDER.indexOf(theme.value) + 1) % ORDER.length] ?? 'system';
    preferences.setTheme(theme.value);
  }
  return { theme, cycle };
}
