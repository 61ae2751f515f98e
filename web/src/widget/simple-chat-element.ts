/**
 * The <simple-chat> custom element: WidgetChat.vue as a Vue custom element with an open shadow root, each
 * element with its own Pinia and runtime (the app's stores and drivers, see ../browser-runtime.ts).
 *
 *   <script src="https://chat.example.com/widget.js"></script>
 *   <simple-chat target="sip:support@example.com" label="Support"></simple-chat>
 *
 * Attributes (read live): `target` (required, the address to chat with), `gateway` (the gateway's ws:// or wss://
 * URL; default: the host that served the script), `user` (prefills the sign-in address), `label` (or `title`:
 * the name shown for the chat; default: the target's user part).
 *
 * The styles: in the widget build every single-file component is compiled in custom-element mode, so its CSS is a
 * string that Vue puts into the element's shadow root when the component first renders there (nothing goes into
 * the page's <head>). Selectors of the page do not reach into a shadow root, and WidgetChat.vue resets what would
 * still be inherited through it (font, colour …) at its top element.
 */
import { createPinia } from 'pinia';
import { defineCustomElement } from 'vue';
import { provideServices } from '../stores/services.ts';
import type { BrowserRuntime } from '../browser-runtime.ts';
import WidgetChat from './WidgetChat.vue';

export const ELEMENT_NAME = 'simple-chat';

export interface SimpleChatOptions {
  /** the tag name (default `simple-chat`) */
  readonly name?: string | undefined;
  /** makes what one element runs on; called each time an element mounts, disposed when it unmounts */
  readonly runtime: () => BrowserRuntime;
}

/**
 * Defines the element unless that name is already defined (a page that includes the script twice, or two
 * versions of it: the first definition stays). Returns the constructor registered under the name.
 */
export function defineSimpleChat(options: SimpleChatOptions): CustomElementConstructor {
  const name = options.name ?? ELEMENT_NAME;
  const existing = customElements.get(name);
  if (existing) return existing;
  const element = defineCustomElement(WidgetChat, {
    configureApp(app) {
      const runtime = options.runtime();
      const pinia = createPinia();
      provideServices(pinia, runtime.services);
      app.use(pinia);
      app.onUnmount(() => {
        runtime.dispose();
      });
    },
  });
  customElements.define(name, element);
  return element;
}
