import { type Kysely, type Migration, sql } from "kysely";

/**
 * `commit_leaf`: what `Accounting.commit` did in five statements (begin, delete the reservation, update the stack,
 * insert the leaf, commit), as one function call, so a request costs the database one round trip to commit. It
 * takes the same locks in the same order (the reservation, then the stack row) and changes nothing unless it
 * records the leaf. Its outcome: `committed`, `no_reservation` (released, or dropped by a settlement freeze),
 * `over` (usage outgrew both the reservation and the stack; the reservation stays open) or `moved` (the stack is
 * not where the reservation left it: not at the reserved nonce, or another leaf's units were added).
 */
export const oneTripCommit: Migration = {
  async up(db: Kysely<unknown>) {
    await sql`create function commit_leaf(
        p_reservation text, p_used_before bigint, p_units bigint, p_nonce numeric(78, 0),
        p_req_hash text, p_resp_hash text, p_leaf_hash text, p_seed bigint, p_request text, p_response text,
        out o_outcome text, out o_stack_id numeric(78, 0), out o_held_units bigint)
      language plpgsql as $$
      begin
        select r.stack_id, r.units into o_stack_id, o_held_units
          from reservations r where r.reservation_id = p_reservation for update;
        if not found then
          o_outcome := 'no_reservation';
          return;
        end if;
        update stacks s set
            units_reserved = s.units_reserved - o_held_units,
            units_used = s.units_used + p_units,
            leaf_count = s.leaf_count + 1,
            updated_at = now()
          where s.stack_id = o_stack_id and s.leaf_count = p_nonce and s.units_used = p_used_before
            and s.units_used + p_units + s.units_reserved - o_held_units <= s.units_bought;
        if not found then
          perform 1 from stacks s
            where s.stack_id = o_stack_id and s.leaf_count = p_nonce and s.units_used = p_used_before;
          o_outcome := case when found then 'over' else 'moved' end;
          return;
        end if;
        delete from reservations r where r.reservation_id = p_reservation;
        insert into leaves (stack_id, leaf_index, req_hash, resp_hash, leaf_hash, units, cumulative_units, seed,
            nonce, request, response)
          values (o_stack_id, p_nonce, p_req_hash, p_resp_hash, p_leaf_hash, p_units, p_used_before + p_units,
            p_seed, p_nonce, p_request, p_response);
        o_outcome := 'committed';
      end
      $$`.execute(db);
  },
};
