;; SwiGLU's gating for training's fused op (src/backend/kernels/swiglu.ts) on the wasm heap of tfjs-backend-wasm
;; (whose memory it imports), one pass each way over n float32 elements:
;;   swiglu:       y = silu(g) ⊙ u, silu(g) = g / (1 + e^−g)                       (parts/swiglu.wat)
;;   swiglu_grad:  s = 1 / (1 + e^−g), silu = g·s;  du = dy·silu,  dg = dy·u·(s + silu·(1 − s))
;; where the composed ops made four passes forward (σ, two products) and about ten back, each with a tensor of its
;; own. Four lanes at a time, the n mod 4 tail through the same lanes. Byte offsets; float32 throughout.
;; Built into swiglu-wasm.ts by scripts/build-wasm.mjs.
(module
  (import "env" "memory" (memory 0))

  ;; include parts/exp.wat
  ;; include parts/swiglu.wat

;; dg and du of four lanes at byte offset $o of each array
  (func $grad4 (param $dg i32) (param $du i32) (param $dy i32) (param $g i32) (param $u i32) (param $o i32)
    (local $s v128) (local $silu v128) (local $d v128) (local $x v128)
    (local.set $d (v128.load (i32.add (local.get $dy) (local.get $o))))
    (local.set $x (v128.load (i32.add (local.get $g) (local.get $o))))
    (local.set $s (f32x4.div (v128.const f32x4 1 1 1 1)
      (f32x4.add (v128.const f32x4 1 1 1 1) (call $exp4 (f32x4.neg (local.get $x))))))
    (local.set $silu (f32x4.mul (local.get $x) (local.get $s)))
    (v128.store (i32.add (local.get $du) (local.get $o)) (f32x4.mul (local.get $d) (local.get $silu)))
    (v128.store (i32.add (local.get $dg) (local.get $o))
      (f32x4.mul (f32x4.mul (local.get $d) (v128.load (i32.add (local.get $u) (local.get $o))))
        (f32x4.add (local.get $s)
          (f32x4.mul (local.get $silu) (f32x4.sub (v128.const f32x4 1 1 1 1) (local.get $s)))))))

  ;; n ≥ 4: the n mod 4 tail is the last four elements computed again (the same values: the outputs are fresh
  ;; arrays, not the inputs); the caller runs n < 4 elsewhere
  (func (export "swiglu_grad") (param $dg i32) (param $du i32) (param $dy i32) (param $g i32) (param $u i32)
                               (param $n i32)
    (local $o i32) (local $end4 i32) (local $end i32)
    (local.set $end (i32.shl (local.get $n) (i32.const 2)))
    (local.set $end4 (i32.and (local.get $end) (i32.const -16)))
    (block $vec_done
      (loop $vec
        (br_if $vec_done (i32.ge_u (local.get $o) (local.get $end4)))
        (call $grad4 (local.get $dg) (local.get $du) (local.get $dy) (local.get $g) (local.get $u) (local.get $o))
        (local.set $o (i32.add (local.get $o) (i32.const 16)))
        (br $vec)))
    (if (i32.ne (local.get $end4) (local.get $end))
      (then (call $grad4 (local.get $dg) (local.get $du) (local.get $dy) (local.get $g) (local.get $u)
                         (i32.sub (local.get $end) (i32.const 16)))))))
