// "Create tenant": a job for a background worker, whose progress and outcome arrive on
// /hubs/notifications as toasts. With `make run` the page runs the worker's steps itself over
// the REST API (development key); in production examples/worker takes jobs from Redis.
import { useState, type Dispatch, type FormEvent } from 'react';
import { runDevJob, type NotificationsAction, type NotificationsState } from '../lib/notifications';

interface Props {
  state: NotificationsState;
  notify: Dispatch<NotificationsAction>;
  me: string;
  connected: boolean;
}

let jobCounter = 0;
const newJobId = () => `job-${Date.now().toString(36)}-${(jobCounter += 1)}`;

export function Notifications({ state, notify, me, connected }: Props) {
  const [tenant, setTenant] = useState('');
  const [fail, setFail] = useState(false);

  const submit = (event: FormEvent) => {
    event.preventDefault();
    const tenantName = tenant.trim();
    if (!tenantName) return;
    const jobId = newJobId();
    notify({ type: 'queued', jobId, tenantName });
    setTenant('');
    runDevJob({ jobId, user: me, tenantName, error: fail ? 'quota exceeded' : undefined }).catch((error: Error) =>
      notify({ type: 'toast', kind: 'error', text: `The development worker could not send: ${error.message}` }),
    );
  };

  return (
    <section className="card" aria-labelledby="tenants-title">
      <h2 id="tenants-title">Notifications</h2>
      <form onSubmit={submit} className="stack">
        <label htmlFor="tenant-name">Create a tenant (a background job)</label>
        <div className="inline-form">
          <input id="tenant-name" placeholder="acme" value={tenant} onChange={(e) => setTenant(e.target.value)} />
          <button type="submit" className="primary" disabled={!connected}>
            Create tenant
          </button>
        </div>
        <label className="check">
          <input type="checkbox" checked={fail} onChange={(e) => setFail(e.target.checked)} /> Make the job fail
        </label>
      </form>
      <ul className="jobs" data-testid="jobs">
        {state.jobs.map((job) => (
          <li key={job.jobId} data-status={job.status}>
            <span className="name">{job.tenantName}</span>
            <progress max={100} value={job.percent} aria-label={`${job.tenantName} progress`} />
            <span className={`tag ${job.status}`}>{job.status === 'failed' ? `failed: ${job.error}` : job.status}</span>
          </li>
        ))}
      </ul>
    </section>
  );
}
