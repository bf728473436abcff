;; The output head's softmax over a chunk of the vocabulary (src/backend/kernels/row-softmax.ts), on the wasm heap of
;; tfjs-backend-wasm (whose memory it imports). Rows of n float32 logits x:
;;   row_lse:       lse[r] = log Σ_j exp(x[r, j]) = m + log Σ_j exp(x[r, j] − m), m the row's max (two passes);
;;   softmax_scale: g[r, j] = exp(x[r, j] − lse[r])·s[r]  (the logits' gradient, one pass).
;; Four lanes at a time (f32x4), the n mod 4 tail one element at a time through the same exp. Byte offsets; float32
;; throughout except the one log per row, in float64. Built into logsumexp-wasm.ts by scripts/build-wasm.mjs.
(module
  (import "env" "memory" (memory 0))

  ;; include parts/exp.wat

  ;; log s for s ≥ 1 (a row's Σ exp(x − max) holds the max's exp(0) = 1), in float64: s = 2^e·m with m in
  ;; [√½, √2), log m = 2·atanh(z) = 2(z + z³/3 + … + z⁹/9), z = (m − 1)/(m + 1), |z| ≤ 0.172: error below 1e-9.
  ;; NaN and +∞ come back as they are.
  (func $log (param $s f32) (result f64)
    (local $bits i32) (local $e i32) (local $m f64) (local $z f64) (local $z2 f64)
    (if (i32.eqz (f32.lt (local.get $s) (f32.const inf))) (then (return (f64.promote_f32 (local.get $s)))))
    (local.set $bits (i32.reinterpret_f32 (local.get $s)))
    (local.set $e (i32.sub (i32.shr_u (local.get $bits) (i32.const 23)) (i32.const 127)))
    (local.set $m (f64.promote_f32 (f32.reinterpret_i32
      (i32.or (i32.and (local.get $bits) (i32.const 0x7fffff)) (i32.const 0x3f800000)))))
    (if (f64.gt (local.get $m) (f64.const 1.4142135623730951))
      (then
        (local.set $m (f64.mul (local.get $m) (f64.const 0.5)))
        (local.set $e (i32.add (local.get $e) (i32.const 1)))))
    (local.set $z (f64.div (f64.sub (local.get $m) (f64.const 1)) (f64.add (local.get $m) (f64.const 1))))
    (local.set $z2 (f64.mul (local.get $z) (local.get $z)))
    (f64.add
      (f64.mul (f64.convert_i32_s (local.get $e)) (f64.const 0.6931471805599453))
      (f64.mul (f64.mul (f64.const 2) (local.get $z))
        (f64.add (f64.const 1) (f64.mul (local.get $z2)
          (f64.add (f64.const 0.3333333333333333) (f64.mul (local.get $z2)
            (f64.add (f64.const 0.2) (f64.mul (local.get $z2)
              (f64.add (f64.const 0.14285714285714285) (f64.mul (local.get $z2) (f64.const 0.1111111111111111))))))))))))

  (func (export "row_lse") (param $lse i32) (param $x i32) (param $rows i32) (param $n i32)
    (local $row i32) (local $j i32) (local $n4 i32) (local $o i32)
    (local $mv v128) (local $m f32) (local $acc v128) (local $sum f32)
    (local.set $n4 (i32.and (local.get $n) (i32.const -4)))
    (block $rows_done
      (loop $each_row
        (br_if $rows_done (i32.ge_u (local.get $row) (local.get $rows)))
        ;; m = max_j x[j] (a NaN anywhere makes it NaN, and so the row's lse)
        (local.set $mv (v128.const f32x4 -inf -inf -inf -inf))
        (local.set $j (i32.const 0))
        (block $max_done
          (loop $max4
            (br_if $max_done (i32.ge_u (local.get $j) (local.get $n4)))
            (local.set $mv (f32x4.max (local.get $mv)
              (v128.load (i32.add (local.get $x) (i32.shl (local.get $j) (i32.const 2))))))
            (local.set $j (i32.add (local.get $j) (i32.const 4)))
            (br $max4)))
        (local.set $m (f32.max
          (f32.max (f32x4.extract_lane 0 (local.get $mv)) (f32x4.extract_lane 1 (local.get $mv)))
          (f32.max (f32x4.extract_lane 2 (local.get $mv)) (f32x4.extract_lane 3 (local.get $mv)))))
        (block $max_tail_done
          (loop $max_tail
            (br_if $max_tail_done (i32.ge_u (local.get $j) (local.get $n)))
            (local.set $m (f32.max (local.get $m)
              (f32.load (i32.add (local.get $x) (i32.shl (local.get $j) (i32.const 2))))))
            (local.set $j (i32.add (local.get $j) (i32.const 1)))
            (br $max_tail)))
        ;; Σ_j exp(x[j] − m) in four partial sums, added at the end
        (local.set $mv (f32x4.splat (local.get $m)))
        (local.set $acc (v128.const f32x4 0 0 0 0))
        (local.set $j (i32.const 0))
        (block $sum_done
          (loop $sum4
            (br_if $sum_done (i32.ge_u (local.get $j) (local.get $n4)))
            (local.set $o (i32.add (local.get $x) (i32.shl (local.get $j) (i32.const 2))))
            (local.set $acc (f32x4.add (local.get $acc)
              (call $exp4 (f32x4.sub (v128.load (local.get $o)) (local.get $mv)))))
            (local.set $j (i32.add (local.get $j) (i32.const 4)))
            (br $sum4)))
        (local.set $sum (f32.add
          (f32.add (f32x4.extract_lane 0 (local.get $acc)) (f32x4.extract_lane 1 (local.get $acc)))
          (f32.add (f32x4.extract_lane 2 (local.get $acc)) (f32x4.extract_lane 3 (local.get $acc)))))
        (block $sum_tail_done
          (loop $sum_tail
            (br_if $sum_tail_done (i32.ge_u (local.get $j) (local.get $n)))
            (local.set $o (i32.add (local.get $x) (i32.shl (local.get $j) (i32.const 2))))
            (local.set $sum (f32.add (local.get $sum) (f32x4.extract_lane 0
              (call $exp4 (f32x4.splat (f32.sub (f32.load (local.get $o)) (local.get $m)))))))
            (local.set $j (i32.add (local.get $j) (i32.const 1)))
            (br $sum_tail)))
        (f32.store (i32.add (local.get $lse) (i32.shl (local.get $row) (i32.const 2)))
          (f32.demote_f64 (f64.add (f64.promote_f32 (local.get $m)) (call $log (local.get $sum)))))
        (local.set $x (i32.add (local.get $x) (i32.shl (local.get $n) (i32.const 2))))
        (local.set $row (i32.add (local.get $row) (i32.const 1)))
        (br $each_row))))

  (func (export "softmax_scale") (param $g i32) (param $x i32) (param $lse i32) (param $s i32) (param $rows i32)
    (param $n i32)
    (local $row i32) (local $j i32) (local $n4 i32) (local $o i32) (local $lv v128) (local $sv v128)
    (local.set $n4 (i32.and (local.get $n) (i32.const -4)))
    (block $rows_done
      (loop $each_row
        (br_if $rows_done (i32.ge_u (local.get $row) (local.get $rows)))
        (local.set $o (i32.shl (local.get $row) (i32.const 2)))
        (local.set $lv (v128.load32_splat (i32.add (local.get $lse) (local.get $o))))
        (local.set $sv (v128.load32_splat (i32.add (local.get $s) (local.get $o))))
        (local.set $j (i32.const 0))
        (block $done4
          (loop $each4
            (br_if $done4 (i32.ge_u (local.get $j) (local.get $n4)))
            (local.set $o (i32.shl (local.get $j) (i32.const 2)))
            (v128.store (i32.add (local.get $g) (local.get $o))
              (f32x4.mul (call $exp4 (f32x4.sub (v128.load (i32.add (local.get $x) (local.get $o))) (local.get $lv)))
                         (local.get $sv)))
            (local.set $j (i32.add (local.get $j) (i32.const 4)))
            (br $each4)))
        (block $tail_done
          (loop $tail
            (br_if $tail_done (i32.ge_u (local.get $j) (local.get $n)))
            (local.set $o (i32.shl (local.get $j) (i32.const 2)))
            (f32.store (i32.add (local.get $g) (local.get $o))
              (f32x4.extract_lane 0 (f32x4.mul
                (call $exp4 (f32x4.sub (v128.load32_splat (i32.add (local.get $x) (local.get $o))) (local.get $lv)))
                (local.get $sv))))
            (local.set $j (i32.add (local.get $j) (i32.const 1)))
            (br $tail)))
        (local.set $x (i32.add (local.get $x) (i32.shl (local.get $n) (i32.const 2))))
        (local.set $g (i32.add (local.get $g) (i32.shl (local.get $n) (i32.const 2))))
        (local.set $row (i32.add (local.get $row) (i32.const 1)))
        (br $each_row))))
)
