// rot_scan: the level loop at the heart of the `rot` mixer (model.md, section rot; seed 000):
//   θ_{l+1} = c · ( cos(φ_l) ⊙ θ_l + sin(φ_l) ⊙ shift_{2^l}(θ_l) ),  l = 0 … Lv−1 ;  out = θ_Lv
//   shift_s(θ)[t] = θ[t−s] for t ≥ s, else 0.
// The three variants differ only in where the phases come from and in c:
//   LowRank   φ (B,T,Lv,W): one phase per channel per level; c = 1.
//   HeadPhase φ (B,T,Lv,H): one phase per head per level, shared by its W/H channels; c = 1/√2.
//   Dynamic   φ_l[t,h] = clamp(w_l · θ_l[t,h,:], −4, 4), w (Lv, W/H) shared by heads; c = 1/√2.
// The projections around the scan (θ_0 = Wθ·x, φ = Wφ·x, RMSNorm, Wo) belong to model/mixer_rot.
// A one-position step over per-level ring buffers serves incremental generation.
// A naive reference (direct loops, double accumulation, every level stored) is in ops/rot_scan_naive.
//
// Memory policy of the fast op: forward saves only the sines and cosines of the phases (computed
// once, read again by backward) — not the level states. Backward recomputes the Lv level states one
// channel block at a time into a small per-slot workspace (like the seed's activation checkpointing),
// so saved memory is O(B·T·Lv·phases) and the workspace O(slots·Lv·T·block), both linear in T.
#pragma once

#include <cstddef>
#include <string>

namespace spectral {

enum class RotVariant { LowRank, HeadPhase, Dynamic };

// "lowrank" | "headphase" | "dynamic"; anything else throws std::invalid_argument.
RotVariant rot_variant_from_name(const std::string& name);
// Lv = bit_length(context − 1): 0 for context 1, 1 for 2, 2 for 3..4, 4 for 9..16, 12 for 4096.
int rot_levels(int context);
// c: 1 for LowRank, 1/√2 otherwise.
double rot_scale(RotVariant v);
// Phases per level per position: W (LowRank) or H (HeadPhase, Dynamic).
int rot_phase_width(RotVariant v, int W, int H);
// The clamp of the Dynamic phases: φ = clamp(raw, −kRotPhaseClamp, kRotPhaseClamp).
constexpr double kRotPhaseClamp = 4.0;

// Shapes: theta0, out, dtheta0, dout (B,T,W) channel-last. phase: φ (B,T,Lv,P) with P =
// rot_phase_width (LowRank, HeadPhase) or w (Lv, W/H) (Dynamic); dphase has the same shape.
// W must be divisible by H. Lv >= 0 (Lv = 0: out = θ_0).

// T-typed values rot_scan_forward saves for backward: cos and sin of every phase (and, for Dynamic,
// the phase before the clamp): 2·B·T·Lv·W (LowRank, W rounded up to a multiple of 16),
// 2·B·T·Lv·H (HeadPhase), 3·B·T·Lv·H (Dynamic).
size_t rot_scan_saved_size(RotVariant v, int B, int Tn, int W, int H, int Lv);
// T-typed workspace values rot_scan_forward and rot_scan_backward need with `slots` independent
// slots (one per thread is the intent; any slots >= 1 gives the same result): per slot Lv+1 packed
// T × block tiles (block = 16 channels, or W/H for Dynamic) plus, for Dynamic, a private Lv × W/H
// gradient. Scratch: nothing in it survives from forward to backward.
size_t rot_scan_work_size(RotVariant v, int Tn, int W, int H, int Lv, int slots);
// The slot count to use: the OpenMP thread count in force (read, never set).
int rot_scan_default_slots();

// out (B,T,W) = θ_Lv; saved (rot_scan_saved_size) written for backward; work (rot_scan_work_size)
// scratch; theta0 (B,T,W); phase φ (B,T,Lv,P) or w (Lv,W/H).
// rings: null, or (prefill of one sequence: B = 1, Tn <= max_len) the state of rot_scan_step
// (rot_scan_state_size(W, Lv, max_len)) to fill as the steps at positions 0..Tn−1 would leave it: each
// level's last 2^l rows, copied out of the level loop as it passes (the levels are not computed again;
// the arithmetic is the forward's, so the rings equal the steps' to rounding).
template <typename T>
void rot_scan_forward(T* out, T* saved, T* work, const T* theta0, const T* phase, RotVariant v, int B, int Tn,
                      int W, int H, int Lv, int slots, T* rings = nullptr, int max_len = 0);

// dtheta0 (B,T,W) += ∂L/∂θ_0 ; dphase (φ or w shape) += ∂L/∂phase ; work (rot_scan_work_size(slots))
// is scratch; given dout (B,T,W) = ∂L/∂out and the forward's theta0, phase, saved. Only Dynamic
// reads phase (w); LowRank and HeadPhase need just the saved cos/sin (phase may be null).
template <typename T>
void rot_scan_backward(T* dtheta0, T* dphase, T* work, const T* dout, const T* theta0, const T* phase,
                       const T* saved, RotVariant v, int B, int Tn, int W, int H, int Lv, int slots);

// One position of incremental generation. The state holds, for each level l with 2^l < max_len, a
// ring of θ_l at the last 2^l positions (slot pos mod 2^l): (2^l − 1)·W values precede level l's
// ring. Levels with 2^l >= max_len only ever shift in zeros and keep nothing. Positions are fed in
// order 0, 1, 2, ... < max_len; the state needs no initialisation (a slot is read only after the
// position 2^l earlier wrote it).
size_t rot_scan_state_size(int W, int Lv, int max_len);
// T-typed scratch values rot_scan_step needs: two level states and the cos/sin of one position.
size_t rot_scan_step_work_size(RotVariant v, int W, int H, int Lv);

// out (W) = row pos of rot_scan_forward over positions 0..pos, given theta0 (W) = θ_0 of position
// pos and phase = φ (Lv, P) of position pos (LowRank, HeadPhase) or w (Lv, W/H) (Dynamic); updates
// the rings in state (rot_scan_state_size); work (rot_scan_step_work_size) is scratch.
template <typename T>
void rot_scan_step(T* out, T* state, T* work, const T* theta0, const T* phase, RotVariant v, int pos, int max_len,
                   int W, int H, int Lv);

// The step for S independent streams at the same position pos. Their rings are interleaved:
// S·rot_scan_state_size values where level l's ring holds, for each slot, the S streams' states side
// by side (slot p of stream i at ((2^l − 1)·S + p·S + i)·W), so that one step walks memory forwards.
// work: S·rot_scan_step_work_size; out (S,W), theta0 (S,W), phase φ (S,Lv,P) (LowRank, HeadPhase)
// or w (Lv, W/H) shared by all streams (Dynamic). Steps streams first..first+count−1 (rows of the
// full arrays); row i equals rot_scan_step on stream i alone (the streams run in parallel when there
// are enough of them and the caller is not already inside a parallel region).
template <typename T>
void rot_scan_step_batch(T* out, T* state, T* work, const T* theta0, const T* phase, RotVariant v, int pos,
                         int max_len, int W, int H, int Lv, int S, int first, int count);
// Copies one stream's rings (rot_scan_step's layout, rot_scan_state_size values) into stream i of
// rot_scan_step_batch's interleaved rings.
template <typename T>
void rot_scan_store_stream(T* streams, const T* state, int W, int Lv, int max_len, int S, int i);

// cos and sin of n phases (float: a vectorizable Cody–Waite + minimax polynomial, |error| < 2e-7
// for |x| <= 8192; double: std::cos / std::sin). Shared by the forward and the step.
template <typename T>
void rot_sincos(T* cosv, T* sinv, const T* x, int n);

}  // namespace spectral
