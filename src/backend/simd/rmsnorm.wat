;; RMSNorm's backward on the wasm heap of tfjs-backend-wasm (whose memory it imports), for x (N, d), gain w (d),
;; output gradient dy (N, d) and r = 1/√(mean(x²) + eps) per row, recomputed here:
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
        (br $rows)))))
