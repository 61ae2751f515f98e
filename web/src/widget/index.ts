/**
 * The widget's script (dist/widget.js, one classic script with its CSS inside): defines <simple-chat> once.
 * The default gateway is the WebSocket of the host this script came from (the gateway serves it), read while the
 * script runs, the only moment `document.currentScript` names it; without one (loaded as a module, or by a
 * bundler) it is the page's own host, as in the app.
 */
import { defaultGatewayUrl } from '../drivers/index.ts';
import { browserRuntime } from '../browser-runtime.ts';
import { defineSimpleChat } from './simple-chat-element.ts';

/** The location the script was loaded from, else the page's. */
function scriptLocation(): { readonly protocol: string; readonly host: string } {
  const script = document.currentScript;
  if (script instanceof HTMLScriptElement && script.src) {
    try {
      return new URL(script.src);
    } catch {
      // an unparsable src: fall back to the page
    }
  }
  return location;
}

const gateway = defaultGatewayUrl(scriptLocation());

defineSimpleChat({
  runtime: () =>
    browserRuntime({
      name: 'simple-chat widget',
      userAgent: 'SIMPLE chat (widget)',
      defaultGatewayUrl: gateway,
    }),
});
