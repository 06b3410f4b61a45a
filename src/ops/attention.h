// attention: causal multi-head softmax attention with an optional sliding window, the core op of the
// `attention` and `local` mixers. Per head h (size hs = C/H), query t sees key s iff
// t − window < s <= t (window >= T is full causal attention):
//   P[t,s] = softmax_s( q_t·k_s / sqrt(hs) ) over visible s ;  out_t = Σ_s P[t,s] · v_s
// Queries are processed in blocks of kAttentionBlock; each block computes scores only against the
// keys it can see (gemm), so a window w costs O(T·(w+block)) time and memory, not O(T²).
// A naive reference (full T×T masked score matrix, plain loops) sits beside it for tests, and a
// one-position step over a key/value cache for incremental generation.
#pragma once

#include <cstddef>

namespace spectral {

// Queries per block (the last block of a sequence may be shorter).
constexpr int kAttentionBlock = 64;

// Shapes: qkv, dqkv (B,T,3C) laid out per position as [q | k | v], head h at columns h·hs..(h+1)·hs
// of each part; out, dout (B,T,C) heads concatenated. window >= 1.

// Number of T-typed values attention_forward saves for backward (the softmax probabilities of the
// visible keys of each query block): B·H · Σ_blocks rows·keys, at most B·H·T·min(T, window+block).
size_t attention_saved_size(int B, int Tn, int C, int H, int window);
// Number of T-typed values attention_backward needs as scratch (one block of scores per (b,h)).
size_t attention_scratch_size(int B, int Tn, int C, int H, int window);

// out (B,T,C), probs (attention_saved_size) = attention(qkv (B,T,3C)).
template <typename T>
void attention_forward(T* out, T* probs, const T* qkv, int B, int Tn, int C, int H, int window);

// dqkv (B,T,3C) += ∂L/∂qkv given dout (B,T,C), qkv and the probs saved by forward;
// scratch (attention_scratch_size) is overwritten.
template <typename T>
void attention_backward(T* dqkv, T* scratch, const T* dout, const T* qkv, const T* probs, int B, int Tn, int C,
                        int H, int window);

// Reference: out (B,T,C) = attention(qkv (B,T,3C)), plain loops over a full T×T masked score matrix.
template <typename T>
void attention_naive_forward(T* out, const T* qkv, int B, int Tn, int C, int H, int window);

// One position of incremental generation over a key/value cache. The cache kv (max_len, 2C) holds
// row s = [k_s | v_s] (heads at columns h·hs of each part) for the positions fed so far; positions
// are fed in order 0, 1, 2, ...
// Number of T-typed values attention_step needs as scratch for caches of up to max_len positions
// (the scores of H heads).
size_t attention_step_scratch_size(int max_len, int window, int H);

// out (C) = row pos of attention_forward over positions 0..pos, given qkv (3C) = [q | k | v] of
// position pos; writes [k | v] into row pos of kv first. scores (attention_step_scratch_size) is
// overwritten.
template <typename T>
void attention_step(T* out, T* kv, T* scores, const T* qkv, int pos, int C, int H, int window);
// The step for S independent streams at the same position pos: stream i's cache at kv + i·kv_size
// (kv_size >= max_len·2C), its scratch at scores + i·scores_size; out (S,C), qkv (S,3C). Row i
// equals attention_step on stream i alone.
template <typename T>
void attention_step_batch(T* out, T* kv, size_t kv_size, T* scores, size_t scores_size, const T* qkv, int pos, int C,
                          int H, int window, int S);

}  // namespace spectral
