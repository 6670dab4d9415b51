"""Analytic cycle model of bsa_top: predicts the timing counters (total, busy, stall) from the
configuration, the key-block lists and the memory (latency, cycles per response beat).

It walks the job block by block (not cycle by cycle) with the RTL's costs:
  issuer    2 cycles per count beat or skipped index, 3 per visited index (+1 for the row's Q request)
  memory    a request's beats start `latency` cycles after it, one row of D bytes per `rsp_gap` cycles
  engine    1 + 2 B^2 D / P cycles per visited key block (S then PV, P MACs each cycle), after its K/V
            (and the row's Q) are loaded; 1 cycle to hand a finished query block to the epilogue
  epilogue  beside the engine: per row D + RS - 4 cycles (a sequential reciprocal of RS - 6 steps,
            D output multiplies, one output beat), 2 for a row that visited nothing; the next
            query block's PV of row r waits until the epilogue has emitted row r
  credits   KvSlots K/V buffers and 2 Q buffers: a request waits for a free slot
"""

from __future__ import annotations

from hw.config import AccelConfig
from hw.golden import parse_rows


def block_cycles(cfg: AccelConfig) -> int:
    """Engine cycles per visited key block (busy: 2 B^2 D / P)."""
    return 2 * cfg.block * cfg.block * cfg.head_dim // cfg.macs


def epilogue_row_cycles(cfg: AccelConfig, visited: bool) -> int:
    """Epilogue cycles per output row: reciprocal (RS - 6 steps), D multiplies, one output beat."""
    return cfg.head_dim + cfg.rs - 6 + 2 if visited else 2


def predict(cfg: AccelConfig, rows: list[list[int]], nk: int, latency: int = 4, rsp_gap: int = 1) -> dict:
    """Predicted counters for one job with an always-ready output. rows: per query block, the
    key-block list as sent (malformed entries are skipped as the RTL does)."""
    b = cfg.block
    kept, _ = parse_rows(rows, nk)
    s_len = b * b * cfg.head_dim // cfg.macs  # S phase of one block
    r_len = b * cfg.head_dim // cfg.macs  # PV phase of one row
    t_iss = 1  # issuer time (cycle the first list beat can be taken)
    mem_free = 0  # when the memory can start the next beat
    eng_free = 1  # when the engine can accept its next item
    ep_start, ep_row, ep_free = -(10**9), 0, 0  # the epilogue running beside the engine
    kv_free = [0] * cfg.kv_slots  # time each K/V slot is released (ring order)
    q_free = [0, 0]
    nkv = nq_fetch = 0
    busy = 0
    q_loaded = 0
    for qb, row in enumerate(rows):
        t_iss += 2  # count beat
        blocks = kept[qb]
        t_iss += 2 * (len(row) - len(blocks)) if len(row) <= nk else 2 * len(row)
        for i, _kb in enumerate(blocks):
            t_iss += 1
            if i == 0:  # the row's Q block
                t_req = max(t_iss, q_free[nq_fetch % 2])
                start = max(t_req + latency, mem_free)
                q_loaded = start + (b - 1) * rsp_gap + 1
                mem_free = q_loaded - 1 + rsp_gap
                t_iss = t_req + 1
                nq_fetch += 1
            t_req = max(t_iss, kv_free[nkv % cfg.kv_slots])
            start = max(t_req + latency, mem_free)
            kv_loaded = start + (2 * b - 1) * rsp_gap + 1
            mem_free = kv_loaded - 1 + rsp_gap
            t_iss = t_req + 2
            e_start = max(eng_free, t_req + 2, kv_loaded, q_loaded)
            pv0 = e_start + 1 + s_len
            # PV of row r waits until the epilogue has emitted row r of the previous query block
            delay = max([0] + [ep_start + (r + 1) * ep_row - (pv0 + r * r_len) for r in range(b)])
            eng_free = pv0 + b * r_len + delay
            kv_free[nkv % cfg.kv_slots] = eng_free
            nkv += 1
            busy += 2 * s_len
        accept = max(eng_free, t_iss + 1, ep_free)
        if blocks:
            q_free[(nq_fetch - 1) % 2] = accept + 1
        eng_free = accept + 1
        ep_start, ep_row = accept + 1, epilogue_row_cycles(cfg, bool(blocks))
        ep_free = ep_start + b * ep_row
    total = ep_free + 1
    return {"total_cycles": total, "busy_cycles": busy, "utilisation": busy / total if total else 0.0}
