// `skiff server` with the controllers and scheduler started through startControllers(), used
// by the controller e2e tests and the scheduler benchmark until server/main.ts starts them
// itself. It runs the real runServer() and hooks the moment the store gets its first
// listener (the garbage collector, right after bootstrap) to start everything else on it.
//   bun server/controllers/testing/dev-server.ts server --data-dir D --https-listen-port P ...
import { Store } from "../../store/store";
import { startControllers, type RunningControllers } from "../index";

let running: RunningControllers | undefined;
const orig = Store.prototype.onApplied;
Store.prototype.onApplied = function (this: Store, l) {
  if (!running) running = startControllers(this, { skip: ["garbagecollector", "namespace"] });
  return orig.call(this, l);
};
const { main } = await import("../../../cli/main");
const code = await main(process.argv.slice(2));
process.exit(code);
