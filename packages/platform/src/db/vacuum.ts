/**
 * When to VACUUM a table whose rows are deleted once handled (an outbox, a queue of calls). A deleted
 * row stays in the table and its indexes until a VACUUM, and a read that walks them grows with every
 * row the table ever held. Autovacuum may be off, or far behind on a table this busy; such a table
 * holds only what is pending, so vacuuming it costs milliseconds and takes no lock writers wait for.
 * Due after `afterRows` deleted rows, or `intervalMs` after the last vacuum once any row was deleted.
 */
export function createVacuumSchedule(options: { afterRows: number; intervalMs: number }) {
  let deleted = 0;
  let last = performance.now();
  return {
    /** Counts rows deleted (or updated) since the last vacuum; true once there are enough for one. */
    deleted(rows: number): boolean {
      deleted += rows;
      return deleted >= options.afterRows;
    },
    /** Runs `vacuum` when one is due; `vacuum` resolves false when it did not run (another instance leads). */
    async run(vacuum: () => Promise<boolean | void>): Promise<void> {
      if (deleted === 0 || (deleted < options.afterRows && performance.now() - last < options.intervalMs)) return;
      const counted = deleted;
      if ((await vacuum()) === false) return;
      deleted -= counted;
      last = performance.now();
    },
  };
}
