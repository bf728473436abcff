;; The fused AdamW update (backend/kernels/adamw.ts) on the wasm heap of tfjs-backend-wasm (whose memory it imports):
;; one pass over a variable's parameters p, gradient g and moments m, v (float32), writing the new p, m, v to
;; P, M, V. The arithmetic is the JS kernel's, operation for operation in float64 (f64x2, two elements at a time;
;; the last odd one alone), rounded to float32 on store, so both give the same bits:
;;   g = scale·g,  m' = β1·m + c1·g,  v' = β2·v + (c2·g)·g,  p' = p·decay − (stepSize·m') / (√v' / sqrtBc2 + ε)
;; (scale: global-norm clipping's coefficient, applied here rather than to a clipped copy of the gradient)
;; with c1 = 1 − β1, c2 = 1 − β2 computed by the caller. Byte offsets; n in elements.
;; Built into adamw-wasm.ts by scripts/build-wasm.mjs.
(module
  (import "env" "memory" (memory 0))

  (func (export "adamw") (param $p i32) (param $g i32) (param $m i32) (param $v i32)
                         (param $P i32) (param $M i32) (param $V i32) (param $n i32)
                         (param $beta1 f64) (param $beta2 f64) (param $c1 f64) (param $c2 f64)
                         (param $decay f64) (param $stepSize f64) (param $sqrtBc2 f64) (param $eps f64)
                         (param $scale f64)
    (local $o i32) (local $end2 i32) (local $end i32)
    (local $gi v128) (local $mi v128) (local $vi v128)
    (local $gs f64) (local $ms f64) (local $vs f64)
    (local.set $end (i32.shl (local.get $n) (i32.const 2)))
    (local.set $end2 (i32.shl (i32.and (local.get $n) (i32.const -2)) (i32.const 2)))
    (block $pairs_done
      (loop $pairs
        (br_if $pairs_done (i32.ge_u (local.get $o) (local.get $end2)))
        (local.set $gi (f64x2.mul (f64x2.splat (local.get $scale))
          (f64x2.promote_low_f32x4 (v128.load64_zero (i32.add (local.get $g) (local.get $o))))))
        (local.set $mi (f64x2.add
          (f64x2.mul (f64x2.splat (local.get $beta1))
            (f64x2.promote_low_f32x4 (v128.load64_zero (i32.add (local.get $m) (local.get $o)))))
          (f64x2.mul (f64x2.splat (local.get $c1)) (local.get $gi))))
        (local.set $vi (f64x2.add
          (f64x2.mul (f64x2.splat (local.get $beta2))
            (f64x2.promote_low_f32x4 (v128.load64_zero (i32.add (local.get $v) (local.get $o)))))
          (f64x2.mul (f64x2.mul (f64x2.splat (local.get $c2)) (local.get $gi)) (local.get $gi))))
        (v128.store64_lane 0 (i32.add (local.get $M) (local.get $o)) (f32x4.demote_f64x2_zero (local.get $mi)))
        (v128.store64_lane 0 (i32.add (local.get $V) (local.get $o)) (f32x4.demote_f64x2_zero (local.get $vi)))
        (v128.store64_lane 0 (i32.add (local.get $P) (local.get $o))
          (f32x4.demote_f64x2_zero
            (f64x2.sub
              (f64x2.mul
                (f64x2.promote_low_f32x4 (v128.load64_zero (i32.add (local.get $p) (local.get $o))))
                (f64x2.splat (local.get $decay)))
              (f64x2.div
                (f64x2.mul (f64x2.splat (local.get $stepSize)) (local.get $mi))
                (f64x2.add
                  (f64x2.div (f64x2.sqrt (local.get $vi)) (f64x2.splat (local.get $sqrtBc2)))
                  (f64x2.splat (local.get $eps)))))))
        (local.set $o (i32.add (local.get $o) (i32.const 8)))
        (br $pairs)))
    ;; the last element of an odd count
    (if (i32.lt_u (local.get $o) (local.get $end))
      (then
        (local.set $gs (f64.mul (local.get $scale)
          (f64.promote_f32 (f32.load (i32.add (local.get $g) (local.get $o))))))
        (local.set $ms (f64.add
          (f64.mul (local.get $beta1) (f64.promote_f32 (f32.load (i32.add (local.get $m) (local.get $o)))))
          (f64.mul (local.get $c1) (local.get $gs))))
        (local.set $vs (f64.add
          (f64.mul (local.get $beta2) (f64.promote_f32 (f32.load (i32.add (local.get $v) (local.get $o)))))
          (f64.mul (f64.mul (local.get $c2) (local.get $gs)) (local.get $gs))))
        (f32.store (i32.add (local.get $M) (local.get $o)) (f32.demote_f64 (local.get $ms)))
        (f32.store (i32.add (local.get $V) (local.get $o)) (f32.demote_f64 (local.get $vs)))
        (f32.store (i32.add (local.get $P) (local.get $o))
          (f32.demote_f64
            (f64.sub
              (f64.mul (f64.promote_f32 (f32.load (i32.add (local.get $p) (local.get $o)))) (local.get $decay))
              (f64.div
                (f64.mul (local.get $stepSize) (local.get $ms))
                (f64.add (f64.div (f64.sqrt (local.get $vs)) (local.get $sqrtBc2)) (local.get $eps)))))))))
)
