;; SwiGLU's forward on four float32 lanes and over an array, for the kernels that include it (a line
;; `;; include parts/swiglu.wat`, after parts/exp.wat): one home for run.c's formula, which the host decoder
;; (decode.wat) and training's fused op (swiglu.wat) both run.
  ;; silu(g)·u = (g / (1 + e^−g))·u per lane
  (func $swiglu4 (param $g v128) (param $u v128) (result v128)
    (f32x4.mul
      (f32x4.div (local.get $g) (f32x4.add (v128.const f32x4 1 1 1 1) (call $exp4 (f32x4.neg (local.get $g)))))
      (local.get $u)))

  ;; y = silu(g) ⊙ u over n floats; y may be g or u (each element is read before it is written). The n mod 4
  ;; tail goes through the same lanes (splat, then lane 0), so every element gets the value a lane would.
  (func (export "swiglu") (param $y i32) (param $g i32) (param $u i32) (param $n i32)
    (local $o i32) (local $end4 i32) (local $end i32)
    (local.set $end (i32.shl (local.get $n) (i32.const 2)))
    (local.set $end4 (i32.and (local.get $end) (i32.const -16)))
    (block $vec_done
      (loop $vec
        (br_if $vec_done (i32.ge_u (local.get $o) (local.get $end4)))
        (v128.store (i32.add (local.get $y) (local.get $o))
          (call $swiglu4 (v128.load (i32.add (local.get $g) (local.get $o)))
                         (v128.load (i32.add (local.get $u) (local.get $o)))))
        (local.set $o (i32.add (local.get $o) (i32.const 16)))
        (br $vec)))
    (block $tail_done
      (loop $tail
        (br_if $tail_done (i32.ge_u (local.get $o) (local.get $end)))
        (f32.store (i32.add (local.get $y) (local.get $o))
          (f32x4.extract_lane 0
            (call $swiglu4 (f32x4.splat (f32.load (i32.add (local.get $g) (local.get $o))))
                           (f32x4.splat (f32.load (i32.add (local.get $u) (local.get $o)))))))
        (local.set $o (i32.add (local.get $o) (i32.const 4)))
        (br $tail))))
