/**
 * CPU milliseconds this thread has spent: the cost of a simulation whatever else the machine runs, where wall time on a
 * shared machine says more about the neighbours. A thread's own, so that cells run side by side in worker threads each
 * count theirs (the process's CPU time counts every thread's).
 */
export function threadCpuMs(): number {
  const { user, system } = process.threadCpuUsage();
  return (user + system) / 1000;
}

/** CPU milliseconds the whole process has spent, every thread's (a grid's worker threads included). */
export function processCpuMs(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
}
