import type { NodeDb } from "../db/openStateDatabase.js";
import { type Duty, deleteDutyAsRead } from "./duties.js";

/**
 * Forgets the committee duty of a node the step's chain reads show never seated (a selection duty the window dropped,
 * or one not worked before the draw): it has no vote to miss. Only the row as the step read it goes
 * (`deleteDutyAsRead`): a public draw that named the node meanwhile stamped the row with the vote's deadlines
 * (`recordDrawnSeat`), and the drawn member keeps its duty.
 */
export async function forgetUnseated(db: NodeDb, duty: Duty): Promise<void> {
  await deleteDutyAsRead(db, duty);
}
