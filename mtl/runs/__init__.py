"""Runs: the store that is the truth, the queue that starts runs, and the processes that train.

Modules, from the bottom up (each imports only modules listed before it):

- ``status``: :class:`RunStatus`, its ``ACTIVE`` and ``TERMINAL`` sets, the allowed changes.
- ``processes``: spawn a detached ``python -m`` child, pid liveness, signals, exclusive files.
- ``output_file``: check a user-named output file (never inside a store) and write it whole.
- ``store`` (written in ``store_db``, ``store_schema``, ``store_runs``, ``store_notes``,
  ``store_metrics``): runs, statuses, tags and notes, metric rows in one SQLite file.
- ``spare``, ``supervisor``: hand runs to warm spare workers; the one-per-home supervisor
  (start it, find it, stop it).
- ``executor``: the :class:`Executor` interface; ``local_executor``: one worker process per run.
- ``scheduler``: launch, claim, dispatch and stop runs, the concurrency limit.
- ``recorder``: the training callback that writes a run into the store.
- ``worker``, ``spare_process``, ``supervisor_process``: the processes themselves, started by
  module name; they call the scheduler when a slot frees up.

Everything but the processes' modules is torch-free.
"""
