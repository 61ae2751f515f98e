/**
 * Helpers of the file components: sizes in words, the type icon's label, and the icons they draw (24×24 stroked
 * paths, like base/icons.ts; kept here with the only components that use them).
 */
import { ref, type Ref } from 'vue';

export const FILE_ICONS = {
  /** a page with a folded corner (the type label is written on it) */
  file: 'M14 3H6a2 2 0 0 0-2 2v14a2 2 0 0 0 2 2h12a2 2 0 0 0 2-2V9zM14 3v6h6',
  /** a paper clip */
  attach:
    'M21 11.5 12.5 20a5 5 0 0 1-7-7L14 4.5a3.3 3.3 0 0 1 4.7 4.7L10.2 17.7a1.7 1.7 0 0 1-2.4-2.4L15.5 7.6',
} as const;

/** 1536 → "1.5 KB" (powers of 1024, one decimal under 10). */
export function formatBytes(bytes: number): string {
  const units = ['bytes', 'KB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  if (unit === 0) return `${String(bytes)} ${bytes === 1 ? 'byte' : 'bytes'}`;
  return `${value < 10 ? value.toFixed(1) : Math.round(value).toString()} ${units[unit] ?? ''}`;
}

/** The short label on the type icon: the name's extension, else the MIME type's family. */
export function typeLabel(name: string, type: string): string {
  const dot = name.lastIndexOf('.');
  const ext = dot > 0 ? name.slice(dot + 1) : '';
  if (ext !== '' && ext.length <= 4 && /^[a-z0-9]+$/i.test(ext)) return ext.toUpperCase();
  const family = type.split('/')[0] ?? '';
  if (family === 'image') return 'IMG';
  if (family === 'audio') return 'AUD';
  if (family === 'video') return 'VID';
  if (family === 'text') return 'TXT';
  return 'FILE';
}

/** In words, for people: "PNG image", "PDF document" … from the MIME type. */
export function typeWords(type: string): string {
  const [family = '', sub = ''] = type.split(';')[0]?.trim().split('/') ?? [];
  if (type === '' || type === 'application/octet-stream') return 'File';
  const what = sub.replace(/^x-/, '').replace(/\+.*$/, '').toUpperCase();
  if (family === 'image') return `${what} image`;
  if (family === 'audio') return `${what} audio`;
  if (family === 'video') return `${what} video`;
  if (family === 'text') return `${what === 'PLAIN' ? 'Text' : what} file`;
  return `${what} file`;
}

/**
 * Dropping files onto an element: `active` while files are dragged over it (the drop zone shows), `onFiles`
 * with what was dropped. `accepts()` false (a group conversation) ignores drags: the browser's default stands.
 */
export function useFileDrop(
  accepts: () => boolean,
  onFiles: (files: File[]) => void,
): {
  active: Ref<boolean>;
  enter: (event: DragEvent) => void;
  over: (event: DragEvent) => void;
  leave: (event: DragEvent) => void;
  drop: (event: DragEvent) => void;
} {
  const active = ref(false);
  /** dragenter/dragleave pairs: children fire them too */
  let depth = 0;
  const carriesFiles = (event: DragEvent): boolean =>
    accepts() && Array.from(event.dataTransfer?.types ?? []).includes('Files');
  return {
    active,
    enter(event) {
      if (!carriesFiles(event)) return;
      event.preventDefault();
      depth++;
      active.value = true;
    },
    over(event) {
      if (!carriesFiles(event)) return;
      event.preventDefault();
      if (event.dataTransfer) event.dataTransfer.dropEffect = 'copy';
    },
    leave() {
      if (!active.value) return;
      depth = Math.max(0, depth - 1);
      if (depth === 0) active.value = false;
    },
    drop(event) {
      if (!accepts()) return;
      event.preventDefault();
      depth = 0;
      active.value = false;
      const files = Array.from(event.dataTransfer?.files ?? []);
      if (files.length > 0) onFiles(files);
    },
  };
}
