// Toasts: the outcome of background jobs, announced politely, dismissed by hand or after a while.
import { useEffect } from 'react';
import type { Toast } from '../lib/notifications';

/** Long enough to read a sentence twice; errors stay until dismissed. */
const SUCCESS_MS = 8_000;

function ToastItem({ toast, dismiss }: { toast: Toast; dismiss: (id: number) => void }) {
  useEffect(() => {
    if (toast.kind === 'error') return;
    const timer = setTimeout(() => dismiss(toast.id), SUCCESS_MS);
    return () => clearTimeout(timer);
  }, [toast, dismiss]);
  return (
    <li className={`toast ${toast.kind}`} data-kind={toast.kind}>
      <span>{toast.text}</span>
      <button type="button" className="link" aria-label="Dismiss" onClick={() => dismiss(toast.id)}>
        ×
      </button>
    </li>
  );
}

export function Toasts({ toasts, dismiss }: { toasts: Toast[]; dismiss: (id: number) => void }) {
  return (
    <ol className="toasts" role="status" aria-live="polite" aria-label="Notifications" data-testid="toasts">
      {toasts.map((t) => (
        <ToastItem key={t.id} toast={t} dismiss={dismiss} />
      ))}
    </ol>
  );
}
