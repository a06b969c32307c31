import { deploySystem, viewOf, sign, mine } from "../fixtures/system.js";
describe("probe", () => {
  it("probe", async () => {
    const [a, b] = await deploySystem({ networks: ["chainA", "chainB", "chainC"] });
    await mine(b!, 3);
    const v = await viewOf(b!, 16);
    const sigs = await sign(b!, v, b!.committee.slice(0, 2));
    try { await a!.registry.write.submitView([v, sigs]); } catch (e: any) {
      console.log("NAME", e.name, "CAUSE", e.cause?.name, e.cause?.data, e.cause?.data?.errorName, e.cause?.data?.args);
      console.log("MSG", String(e.message).slice(0, 600));
    }
    try { await a!.registry.simulate.submitView([v, sigs]); } catch (e: any) {
      console.log("SIM NAME", e.name, "CAUSE", e.cause?.name, e.cause?.data?.errorName, e.cause?.data?.args);
    }
    console.log(sigs[0]);
  });
});
