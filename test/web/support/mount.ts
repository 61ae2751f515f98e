/**
 * Mounting components with the harness's Pinia (the app's services wired to fakes), signed in when asked.
 */
import { mount, type ComponentMountingOptions } from '@vue/test-utils';
import type { Component } from 'vue';
import { useAccountStore } from '../../../web/src/stores/account.ts';
import { ALICE, GATEWAY, createHarness, type Harness, type HarnessOptions } from './app-harness.ts';

export async function signedInHarness(options: HarnessOptions = {}): Promise<Harness> {
  const h = createHarness(options);
  await useAccountStore(h.pinia).signIn({ address: ALICE, password: 'secret', gatewayUrl: GATEWAY });
  h.client.goOnline();
  return h;
}

export function mountWith<C extends Component>(
  h: Harness,
  component: C,
  options: ComponentMountingOptions<C> = {},
) {
  return mount(component, {
    ...options,
    attachTo: document.body,
    global: { ...options.global, plugins: [h.pinia] },
  });
}
