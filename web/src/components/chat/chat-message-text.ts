/**
 * ChatMessageText: a message's text as text nodes, with http(s) URLs as links. A render function rather than a
 * template, so no formatting whitespace can ever creep into a message (it is shown with white-space: pre-wrap),
 * and nothing in it is ever parsed as HTML.
 */
import { defineComponent, h } from 'vue';
import { linkify } from '../../composables/linkify.ts';

export default defineComponent({
  name: 'ChatMessageText',
  props: { text: { type: String, required: true } },
  setup(props) {
    return () =>
      h(
        'p',
        linkify(props.text).map((part) =>
          part.href === undefined
            ? part.text
            : h('a', { href: part.href, target: '_blank', rel: 'noopener noreferrer nofollow' }, part.text),
        ),
      );
  },
});
