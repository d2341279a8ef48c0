import { describe, expect, it } from "@jest/globals";
import { BufferBudget, BufferLease } from "./byte-budget.js";

describe("BufferBudget", () => {
  it("holds up to its limit across leases, and gets every lease's bytes back", () => {
    const budget = new BufferBudget(100);
    const first = new BufferLease(budget);
    const second = new BufferLease(budget);
    expect(first.take(60)).toBe(true);
    expect(second.take(50)).toBe(false);
    expect(second.take(40)).toBe(true);
    expect(budget.inUse).toBe(100);
    first.release();
    expect(budget.inUse).toBe(40);
    expect(second.take(50)).toBe(true);
    second.release();
    second.release();
    expect(budget.inUse).toBe(0);
  });
});

describe("BufferLease.resize", () => {
  it("holds exactly what a stream keeps, taking and giving back the difference", () => {
    const budget = new BufferBudget(100);
    const lease = new BufferLease(budget);
    expect(lease.resize(60)).toBe(true);
    expect(budget.inUse).toBe(60);
    expect(lease.resize(20)).toBe(true);
    expect(budget.inUse).toBe(20);
    expect(lease.resize(120)).toBe(false);
    expect(budget.inUse).toBe(20);
    lease.release();
    expect(budget.inUse).toBe(0);
  });
});
