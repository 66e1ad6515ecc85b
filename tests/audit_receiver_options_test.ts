// listen()'s address options, checked up front on every transport (found by
// the audit: UDP listened on port 65535 for -1 and on 1 for 1.5, and an
// empty Unix path on a random abstract socket).
import { rejects } from "node:assert/strict";
import { listen } from "../receiver.ts";

Deno.test("listen(): a port that is not an integer from 0 to 65535 is a RangeError on TCP and UDP; an empty Unix path a TypeError", async () => {
  for (const transport of ["tcp", "udp"] as const) {
    for (const port of [-1, 1.5, 65536, NaN]) {
      await rejects(
        () => listen({ transport, port }),
        RangeError,
        `${transport} port ${port}`,
      );
    }
  }
  await rejects(() => listen({ transport: "unix", path: "" }), TypeError);
});
