import { useEffect, useRef, type ReactNode } from 'react';

/**
 * One screen: its heading takes the focus when the screen opens, so keyboard and screen-reader
 * users start at the new view rather than where the link was.
 */
export function Page({ title, children, heading }: { title: string; children: ReactNode; heading?: ReactNode }) {
  const ref = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    document.title = `${title} · Emporium`;
  }, [title]);
  useEffect(() => {
    ref.current?.focus({ preventScroll: false });
  }, []);
  return (
    <section className="page" aria-labelledby="page-heading">
      <h1 id="page-heading" ref={ref} tabIndex={-1}>
        {heading ?? title}
      </h1>
      {children}
    </section>
  );
}

export function Loading({ what }: { what: string }) {
  return (
    <p className="muted" role="status">
      Loading {what}…
    </p>
  );
}

export function ErrorMessage({ children }: { children: ReactNode }) {
  if (!children) return null;
  return (
    <p className="error" role="alert">
      {children}
    </p>
  );
}
