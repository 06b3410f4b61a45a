// rot_scan_naive: the reference for ops/rot_scan, written for clarity, not speed. Every level state
// θ_0 … θ_Lv is stored whole, in double, and each level is the formula of rot_scan.h read literally:
//   θ_{l+1}[t] = c · ( cos(φ_l[t]) ⊙ θ_l[t] + sin(φ_l[t]) ⊙ θ_l[t − 2^l] )   (θ_l[t − 2^l] = 0 for t < 2^l)
// with φ per channel (LowRank), per head (HeadPhase) or clamp(w_l · θ_l[t,h,:], ±4) (Dynamic).
// Backward walks the levels in reverse over the stored states. Tests compare the fast op with it.
#pragma once

#include "ops/rot_scan.h"

namespace spectral {

// Same contract as rot_scan_forward / rot_scan_backward (shapes, phase layout, accumulation into
// dtheta0 and dphase), without saved values or workspace.
template <typename T>
void rot_scan_naive_forward(T* out, const T* theta0, const T* phase, RotVariant v, int B, int Tn, int W, int H,
                            int Lv);
template <typename T>
void rot_scan_naive_backward(T* dtheta0, T* dphase, const T* dout, const T* theta0, const T* phase,
                             RotVariant v, int B, int Tn, int W, int H, int Lv);

}  // namespace spectral
