import { formatHelp } from "../shared/cli-options.js";
import { startTier, type TierProcess } from "./tier-process.js";

/**
 * `npm start`: runs the gateway and the worker as two processes on one machine, with the
 * same arguments. SIGTERM stops both; if one exits on its own, the other is stopped too.
 */
const HELP = `${formatHelp("Usage: npm start -- --config FILE [options]", [])}

Runs the gateway and the worker side by side and passes every option to both; run
'npm run gateway -- --help' and 'npm run worker -- --help' for their options.`;

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  if (args.includes("--help")) {
    process.stdout.write(`${HELP}\n`);
    return;
  }

  const forward = (line: string): void => void process.stdout.write(`${line}\n`);
  const forwardError = (line: string): void => void process.stderr.write(`${line}\n`);
  const tiers: TierProcess[] = ["gateway/main.js", "worker/main.js"].map((entry) =>
    startTier({ entry, args, onLine: forward, onErrorLine: forwardError }),
  );

  let stoppedBySignal = false;
  const stopAll = async (): Promise<void> => {
    await Promise.all(tiers.map((tier) => tier.stop()));
  };
  const onSignal = (): void => {
    stoppedBySignal = true;
    void stopAll();
  };
  process.on("SIGTERM", onSignal);
  process.on("SIGINT", onSignal);

  // A tier that exits while no signal asked for it has failed, whatever its code.
  await Promise.race(tiers.map((tier) => tier.exited));
  await stopAll();
  const codes = await Promise.all(tiers.map((tier) => tier.exited));
  process.exitCode = stoppedBySignal && codes.every((code) => code === 0) ? 0 : 1;
}

await main();
