/** An in-console link: a real <a href> (open in a new tab works), followed without a reload. */

import type { ComponentChildren, JSX } from "preact";
import { navigate } from "../router";

export function Link(props: {
  href: string;
  children: ComponentChildren;
  class?: string;
  /** This link is the page being shown (said to assistive technology too). */
  current?: boolean;
}): JSX.Element {
  const follow = (event: MouseEvent): void => {
    if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    event.preventDefault();
    navigate(props.href);
  };
  return (
    <a
      href={props.href}
      class={props.current ? `${props.class ?? ""} active`.trim() : props.class}
      aria-current={props.current ? "page" : undefined}
      onClick={follow}
    >
      {props.children}
    </a>
  );
}
