/**
 * CPU milliseconds this process spent since `before` (a `process.cpuUsage()`): the cost of a simulation
 * whatever else the machine runs, where wall time on a shared machine says more about the neighbours.
 */
export function cpuMsSince(before: NodeJS.CpuUsage): number {
  const { user, system } = process.cpuUsage(before);
  return (user + system) / 1000;
}
