import { describe, expect, it } from 'vitest';
import { goalRows, goalTable, halfOfPeakRate, halfOfPeakStep, type StepFigures } from './goals';

const p = (p99: number) => ({ p50: p99 / 2, p95: p99 * 0.9, p99 });
const step = (rate: number, completedPerSecond: number, acceptanceP99: number, confirmedP99: number, halfOfPeak = false): StepFigures => ({
  rate,
  completedPerSecond,
  acceptance: p(acceptanceP99),
  confirmed: p(confirmedP99),
  halfOfPeak,
});

describe('the benchmark goals', () => {
  it('checks the latency goals at half of the highest completed rate only once a step saturated', () => {
    expect(halfOfPeakRate([step(5, 5, 10, 100), step(20, 19.5, 20, 150)])).toBeUndefined();
    expect(halfOfPeakRate([step(5, 5, 10, 100), step(50, 22.4, 2800, 9000), step(100, 22.3, 9000, 18000)])).toBe(11);
  });

  it('when a listed rate is already half of the highest completed rate, then that step serves as the half-peak step and nothing more runs', () => {
    const steps = [step(5, 5, 24, 84), step(20, 19.7, 121.8, 412), step(50, 35.6, 902, 5686), step(100, 40.6, 2203, 9640)];
    expect(halfOfPeakStep(steps)).toBeUndefined();
    expect(steps.map((s) => s.halfOfPeak)).toEqual([false, true, false, false]);
    const rows = goalRows({ productListRps: 1, helloRps: 2, addToCart: p(5), steps });
    expect(rows.find((r) => r.goal === "order acceptance p99, at 20/s offered, half of this run's highest completed rate")).toMatchObject({ result: '121.8 ms', met: false });
    expect(rows.find((r) => r.goal === 'order acceptance p99, at 100/s offered')).toMatchObject({ result: '2203 ms' });
    // Otherwise the rate is left to run.
    expect(halfOfPeakStep([step(5, 5, 10, 100), step(50, 22.4, 2800, 9000)])).toBe(11);
  });

  it('reports each goal as met, not met or not measured, from the figures of one run', () => {
    const rows = goalRows({
      productListRps: 6816,
      helloRps: 13144,
      addToCart: p(11.1),
      steps: [step(5, 5, 35.8, 115), step(100, 22.3, 10740.8, 18014), step(11, 11, 40, 240, true)],
    });
    const byGoal = Object.fromEntries(rows.map((r) => [r.goal, r]));
    expect(byGoal['completed checkouts per second']).toMatchObject({ result: '22.3 (at 100/s offered)', met: false });
    expect(byGoal['order acceptance p99, at 100/s offered']).toMatchObject({ result: '10740.8 ms', met: false });
    expect(byGoal["order acceptance p99, at 11/s offered, half of this run's highest completed rate"]).toMatchObject({ result: '40 ms', met: true });
    expect(byGoal["placement → confirmed p99, at 11/s offered, half of this run's highest completed rate"]).toMatchObject({ met: true });
    expect(byGoal['add to cart p99, one user, warm']).toMatchObject({ result: '11.1 ms', met: false });
    expect(byGoal['product list requests/s, share of the hello-world measured in turns with it']).toMatchObject({ result: '52%', met: true });
  });

  it('says a latency goal was not measured when the run had no step at that rate', () => {
    const rows = goalRows({ productListRps: 1, helloRps: 2, addToCart: p(5), steps: [step(20, 20, 10, 100)] });
    expect(rows.find((r) => r.goal === 'order acceptance p99, at 100/s offered')).toMatchObject({ result: 'not measured', met: undefined });
    expect(goalTable(rows).join('\n')).toContain('| order acceptance p99, at 100/s offered | < 50 ms | not measured | — |');
  });
});
