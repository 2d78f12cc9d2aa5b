import { formatHelp } from "../shared/cli-options.js";
import { startTier, type TierProcess } from "./tier-process.js";

/**
 * `npm start`: runs the gateway and the worker as two processes on one machine, with the
 * same arguments. SIGTERM stops both; if one exits on its own, the other is stopped too.
 */
const HELP = `${formatHelp("Usage: npm start -- --config FILE [options]", [])}

Runs the gateway and the worker side by side and passes every option to both; run
'npm run gateway -- --help' and 'npm run worker -- --help' for their options.
--http-port N (or HTTP_PORT) gives the gateway port N and the worker port N+1; 0 turns
both HTTP servers off. Without it the gateway uses 8080 and the worker 8081.`;

const TIERS = ["gateway", "worker"] as const;

/**
 * Splits `--http-port N` (or `HTTP_PORT`) between the tiers, which cannot share one port:
 * the gateway keeps N and the worker gets N+1.
 */
function argsForTier(args: readonly string[], tier: (typeof TIERS)[number]): string[] {
  const rest: string[] = [];
  let port = process.env.HTTP_PORT;
  for (let index = 0; index < args.length; index += 1) {
    const arg = args[index] as string;
    if (arg === "--http-port") {
      port = args[index + 1];
      index += 1;
    } else if (arg.startsWith("--http-port=")) {
      port = arg.slice("--http-port=".length);
    } else rest.push(arg);
  }

  if (port === undefined || port === "") return rest;
  // An invalid value goes through unchanged, so the tier reports it.
  if (tier === "gateway" || !/^\d+$/.test(port) || port === "0") {
    return [...rest, "--http-port", port];
  }
  return [...rest, "--http-port", String(Number(port) + 1)];
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  if (args.includes("--help")) {
    process.stdout.write(`${HELP}\n`);
    return;
  }

  const forward = (line: string): void => void process.stdout.write(`${line}\n`);
  const forwardError = (line: string): void => void process.stderr.write(`${line}\n`);
  const tiers: TierProcess[] = TIERS.map((tier) =>
    startTier({
      entry: `${tier}/main.js`,
      args: argsForTier(args, tier),
      onLine: forward,
      onErrorLine: forwardError,
    }),
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
  process.on("SIGHUP", onSignal);

  // A tier that exits while no signal asked for it has failed, whatever its code.
  const first = await Promise.race(
    tiers.map((tier, index) => tier.exited.then((code) => ({ tier: TIERS[index], code }))),
  );
  if (!stoppedBySignal) {
    process.stderr.write(`npm start: the ${first.tier} exited with ${first.code}; stopping\n`);
  }
  await stopAll();
  const codes = await Promise.all(tiers.map((tier) => tier.exited));
  process.exitCode = stoppedBySignal && codes.every((code) => code === 0) ? 0 : 1;
}

await main();
