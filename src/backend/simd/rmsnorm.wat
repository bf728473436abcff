;; RMSNorm on the wasm heap of tfjs-backend-wasm (whose memory it imports), for x (N, d), gain w (d), output
;; gradient dy (N, d) and r = 1/√(mean(x²) + eps) per row (recomputed by the backward):
;;   rms_norm:        y = w ⊙ (r·x) with the JS kernel's bits (run.c's rounding): x² summed in float32 one element
;;                    after the other, four rows at once (one per lane) so each row keeps that order; + eps in float64
;;                    rounded once, as JS adds a float64 eps; the square root, the division and both products in float32;
;;   rms_norm_grad_x: dx = r·(dy⊙w) − x·r³·⟨dy⊙w, x⟩/d
;;   rms_norm_grad_w: dw = Σ_rows dy ⊙ x·r
;; Four lanes at a time (f32x4), sums in four partial sums; the d mod 4 tail one element at a time. Byte offsets.
;; Built into rmsnorm-wasm.ts by scripts/build-wasm.mjs.
(module
  (import "env" "memory" (memory 0))

  ;; Σ a[j]·b[j]·c[j] over j < d (c = 0 means Σ a·b); pointers in bytes
  (func $dot3 (param $a i32) (param $b i32) (param $c i32) (param $d i32) (result f32)
    (local $j i32) (local $d4 i32) (local $o i32) (local $acc v128) (local $s f32) (local $t v128) (local $u f32)
    (local.set $d4 (i32.and (local.get $d) (i32.const -4)))
    (local.set $acc (v128.const f32x4 0 0 0 0))
    (block $done
      (loop $each
        (br_if $done (i32.ge_u (local.get $j) (local.get $d4)))
        (local.set $o (i32.shl (local.get $j) (i32.const 2)))
        (local.set $t (f32x4.mul (v128.load (i32.add (local.get $a) (local.get $o)))
                                 (v128.load (i32.add (local.get $b) (local.get $o)))))
        (if (local.get $c)
          (then (local.set $t (f32x4.mul (local.get $t) (v128.load (i32.add (local.get $c) (local.get $o)))))))
        (local.set $acc (f32x4.add (local.get $acc) (local.get $t)))
        (local.set $j (i32.add (local.get $j) (i32.const 4)))
        (br $each)))
    (local.set $s (f32.add
      (f32.add (f32x4.extract_lane 0 (local.get $acc)) (f32x4.extract_lane 1 (local.get $acc)))
      (f32.add (f32x4.extract_lane 2 (local.get $acc)) (f32x4.extract_lane 3 (local.get $acc)))))
    (block $tail_done
      (loop $tail
        (br_if $tail_done (i32.ge_u (local.get $j) (local.get $d)))
        (local.set $o (i32.shl (local.get $j) (i32.const 2)))
        (local.set $u (f32.mul (f32.load (i32.add (local.get $a) (local.get $o)))
                               (f32.load (i32.add (local.get $b) (local.get $o)))))
        (if (local.get $c)
          (then (local.set $u (f32.mul (local.get $u) (f32.load (i32.add (local.get $c) (local.get $o)))))))
        (local.set $s (f32.add (local.get $s) (local.get $u)))
        (local.set $j (i32.add (local.get $j) (i32.const 1)))
        (br $tail)))
    (local.get $s))

  ;; 1/√(Σ x²/d + eps) of the row at x
  (func $inv_rms (param $x i32) (param $d i32) (param $eps f32) (result f32)
    (f32.div (f32.const 1)
      (f32.sqrt (f32.add
        (f32.div (call $dot3 (local.get $x) (local.get $x) (i32.const 0) (local.get $d)) (f32.convert_i32_u (local.get $d)))
        (local.get $eps)))))

  (func (export "rms_norm_grad_x") (param $dx i32) (param $dy i32) (param $x i32) (param $w i32)
                                   (param $N i32) (param $d i32) (param $eps f32)
    (local $n i32) (local $j i32) (local $d4 i32) (local $o i32) (local $row i32)
    (local $r f32) (local $c f32) (local $rv v128) (local $cv v128)
    (local.set $d4 (i32.and (local.get $d) (i32.const -4)))
    (local.set $row (i32.shl (local.get $d) (i32.const 2)))
    (block $rows_done
      (loop $rows
        (br_if $rows_done (i32.ge_u (local.get $n) (local.get $N)))
        (local.set $r (call $inv_rms (local.get $x) (local.get $d) (local.get $eps)))
        ;; c = r³·⟨dy⊙w, x⟩/d
        (local.set $c (f32.div
          (f32.mul (f32.mul (local.get $r) (f32.mul (local.get $r) (local.get $r)))
                   (call $dot3 (local.get $dy) (local.get $w) (local.get $x) (local.get $d)))
          (f32.convert_i32_u (local.get $d))))
        (local.set $rv (f32x4.splat (local.get $r)))
        (local.set $cv (f32x4.splat (local.get $c)))
        (local.set $j (i32.const 0))
        (block $vec_done
          (loop $vec
            (br_if $vec_done (i32.ge_u (local.get $j) (local.get $d4)))
            (local.set $o (i32.shl (local.get $j) (i32.const 2)))
            (v128.store (i32.add (local.get $dx) (local.get $o))
              (f32x4.sub
                (f32x4.mul (local.get $rv) (f32x4.mul (v128.load (i32.add (local.get $dy) (local.get $o)))
                                                      (v128.load (i32.add (local.get $w) (local.get $o)))))
                (f32x4.mul (local.get $cv) (v128.load (i32.add (local.get $x) (local.get $o))))))
            (local.set $j (i32.add (local.get $j) (i32.const 4)))
            (br $vec)))
        (block $tail_done
          (loop $tail
            (br_if $tail_done (i32.ge_u (local.get $j) (local.get $d)))
            (local.set $o (i32.shl (local.get $j) (i32.const 2)))
            (f32.store (i32.add (local.get $dx) (local.get $o))
              (f32.sub
                (f32.mul (local.get $r) (f32.mul (f32.load (i32.add (local.get $dy) (local.get $o)))
                                                 (f32.load (i32.add (local.get $w) (local.get $o)))))
                (f32.mul (local.get $c) (f32.load (i32.add (local.get $x) (local.get $o))))))
            (local.set $j (i32.add (local.get $j) (i32.const 1)))
            (br $tail)))
        (local.set $dx (i32.add (local.get $dx) (local.get $row)))
        (local.set $dy (i32.add (local.get $dy) (local.get $row)))
        (local.set $x (i32.add (local.get $x) (local.get $row)))
        (local.set $n (i32.add (local.get $n) (i32.const 1)))
        (br $rows))))

  (func (export "rms_norm_grad_w") (param $dw i32) (param $dy i32) (param $x i32)
                                   (param $N i32) (param $d i32) (param $eps f32)
    (local $n i32) (local $j i32) (local $d4 i32) (local $o i32) (local $row i32) (local $r f32) (local $rv v128)
    (local.set $d4 (i32.and (local.get $d) (i32.const -4)))
    (local.set $row (i32.shl (local.get $d) (i32.const 2)))
    (memory.fill (local.get $dw) (i32.const 0) (local.get $row))
    (block $rows_done
      (loop $rows
        (br_if $rows_done (i32.ge_u (local.get $n) (local.get $N)))
        (local.set $r (call $inv_rms (local.get $x) (local.get $d) (local.get $eps)))
        (local.set $rv (f32x4.splat (local.get $r)))
        (local.set $j (i32.const 0))
        (block $vec_done
          (loop $vec
            (br_if $vec_done (i32.ge_u (local.get $j) (local.get $d4)))
            (local.set $o (i32.shl (local.get $j) (i32.const 2)))
            (v128.store (i32.add (local.get $dw) (local.get $o))
              (f32x4.add (v128.load (i32.add (local.get $dw) (local.get $o)))
                (f32x4.mul (local.get $rv) (f32x4.mul (v128.load (i32.add (local.get $dy) (local.get $o)))
                                                      (v128.load (i32.add (local.get $x) (local.get $o)))))))
            (local.set $j (i32.add (local.get $j) (i32.const 4)))
            (br $vec)))
        (block $tail_done
          (loop $tail
            (br_if $tail_done (i32.ge_u (local.get $j) (local.get $d)))
            (local.set $o (i32.shl (local.get $j) (i32.const 2)))
            (f32.store (i32.add (local.get $dw) (local.get $o))
              (f32.add (f32.load (i32.add (local.get $dw) (local.get $o)))
                (f32.mul (local.get $r) (f32.mul (f32.load (i32.add (local.get $dy) (local.get $o)))
                                                 (f32.load (i32.add (local.get $x) (local.get $o)))))))
            (local.set $j (i32.add (local.get $j) (i32.const 1)))
            (br $tail)))
        (local.set $dy (i32.add (local.get $dy) (local.get $row)))
        (local.set $x (i32.add (local.get $x) (local.get $row)))
        (local.set $n (i32.add (local.get $n) (i32.const 1)))
        (br $rows))))
  (func (export "rms_norm") (param $y i32) (param $x i32) (param $w i32) (param $N i32) (param $d i32) (param $eps f64)
    (local $n i32) (local $j i32) (local $o i32) (local $rows i32) (local $rowBytes i32) (local $d4 i32) (local $k i32)
    (local $p0 i32) (local $p1 i32) (local $p2 i32) (local $p3 i32) (local $xr i32) (local $yr i32)
    (local $v v128) (local $ss v128) (local $q v128) (local $t v128) (local $r v128) (local $rk v128) (local $rs f32)
    (local.set $rowBytes (i32.shl (local.get $d) (i32.const 2)))
    (local.set $d4 (i32.shl (i32.and (local.get $d) (i32.const -4)) (i32.const 2)))
    (block $groups_done
      (loop $groups
        (br_if $groups_done (i32.ge_u (local.get $n) (local.get $N)))
        (local.set $rows (i32.sub (local.get $N) (local.get $n)))
        (if (i32.gt_u (local.get $rows) (i32.const 4)) (then (local.set $rows (i32.const 4))))
        ;; the group's rows; a missing one repeats the first (its lane is computed, never stored)
        (local.set $p0 (i32.add (local.get $x) (i32.mul (local.get $n) (local.get $rowBytes))))
        (local.set $p1 (select (i32.add (local.get $p0) (local.get $rowBytes)) (local.get $p0)
          (i32.gt_u (local.get $rows) (i32.const 1))))
        (local.set $p2 (select (i32.add (local.get $p1) (local.get $rowBytes)) (local.get $p0)
          (i32.gt_u (local.get $rows) (i32.const 2))))
        (local.set $p3 (select (i32.add (local.get $p2) (local.get $rowBytes)) (local.get $p0)
          (i32.gt_u (local.get $rows) (i32.const 3))))
        ;; Σ x² per lane, in element order
        (local.set $ss (v128.const f32x4 0 0 0 0))
        (local.set $o (i32.const 0))
        (block $sum_done
          (loop $sum
            (br_if $sum_done (i32.ge_u (local.get $o) (local.get $rowBytes)))
            (local.set $v (f32x4.replace_lane 3 (f32x4.replace_lane 2 (f32x4.replace_lane 1
              (f32x4.splat (f32.load (i32.add (local.get $p0) (local.get $o))))
              (f32.load (i32.add (local.get $p1) (local.get $o))))
              (f32.load (i32.add (local.get $p2) (local.get $o))))
              (f32.load (i32.add (local.get $p3) (local.get $o)))))
            (local.set $ss (f32x4.add (local.get $ss) (f32x4.mul (local.get $v) (local.get $v))))
            (local.set $o (i32.add (local.get $o) (i32.const 4)))
            (br $sum)))
        ;; r = 1/√(f32(ss/d + eps)): the mean in float32, eps added in float64 and rounded once
        (local.set $q (f32x4.div (local.get $ss) (f32x4.splat (f32.convert_i32_u (local.get $d)))))
        (local.set $t (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23
          (f32x4.demote_f64x2_zero (f64x2.add (f64x2.promote_low_f32x4 (local.get $q)) (f64x2.splat (local.get $eps))))
          (f32x4.demote_f64x2_zero (f64x2.add (f64x2.promote_low_f32x4
            (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $q) (local.get $q)))
            (f64x2.splat (local.get $eps))))))
        (local.set $r (f32x4.div (v128.const f32x4 1 1 1 1) (f32x4.sqrt (local.get $t))))
        ;; y = w ⊙ (r·x), row by row
        (local.set $k (i32.const 0))
        (block $rows_done
          (loop $each_row
            (br_if $rows_done (i32.ge_u (local.get $k) (local.get $rows)))
            (local.set $rs (f32x4.extract_lane 0 (local.get $r)))
            (local.set $r (i8x16.shuffle 4 5 6 7 8 9 10 11 12 13 14 15 0 1 2 3 (local.get $r) (local.get $r)))
            (local.set $rk (f32x4.splat (local.get $rs)))
            (local.set $xr (i32.add (local.get $p0) (i32.mul (local.get $k) (local.get $rowBytes))))
            (local.set $yr (i32.add (local.get $y)
              (i32.mul (i32.add (local.get $n) (local.get $k)) (local.get $rowBytes))))
            (local.set $o (i32.const 0))
            (block $out_done
              (loop $out4
                (br_if $out_done (i32.ge_u (local.get $o) (local.get $d4)))
                (v128.store (i32.add (local.get $yr) (local.get $o))
                  (f32x4.mul (v128.load (i32.add (local.get $w) (local.get $o)))
                    (f32x4.mul (local.get $rk) (v128.load (i32.add (local.get $xr) (local.get $o))))))
                (local.set $o (i32.add (local.get $o) (i32.const 16)))
                (br $out4)))
            (block $out_tail_done
              (loop $out_tail
                (br_if $out_tail_done (i32.ge_u (local.get $o) (local.get $rowBytes)))
                (f32.store (i32.add (local.get $yr) (local.get $o))
                  (f32.mul (f32.load (i32.add (local.get $w) (local.get $o)))
                    (f32.mul (local.get $rs) (f32.load (i32.add (local.get $xr) (local.get $o))))))
                (local.set $o (i32.add (local.get $o) (i32.const 4)))
                (br $out_tail)))
            (local.set $k (i32.add (local.get $k) (i32.const 1)))
            (br $each_row)))
        (local.set $n (i32.add (local.get $n) (local.get $rows)))
        (br $groups))))
)
