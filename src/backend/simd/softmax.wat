;; Attention's softmax with its mask (src/backend/kernels/masked-softmax.ts) on the wasm heap of tfjs-backend-wasm
;; (whose memory it imports), one row of S keys at a time:
;;   masked_softmax: p = softmax(x + mask), x (B, G, T, S); query t's mask row is mask[t] ((T, S), perBatch = 0)
;;                   or mask[b, t] ((B, T, S), perBatch = 1). Three passes over the row, which stays in L1: x + mask
;;                   into p with the max; exp(p − max) in place with the sum; p × 1/sum. With causal = 1 the mask
;;                   hides every key after the query's position (key j > t + S − T), whose probabilities are then
;;                   exactly 0: the passes stop at the query's position and the rest of the row is zero-filled, which
;;                   halves the work of a training step's rows (T = S).
;;   softmax_grad:   dx = p ⊙ (dy − ⟨p, dy⟩), rows of S; with causal = 1 (rows (…, T, S)) over the keys up to each
;;                   query's position, dx = 0 past it, where dy is not read.
;; Four lanes at a time (f32x4), sums and maxima in four partial lanes combined at the end; the tail of a row one
;; element at a time. Byte offsets; float32 throughout. Built into softmax-wasm.ts by scripts/build-wasm.mjs.
(module
  (import "env" "memory" (memory 0))

  ;; include parts/exp.wat

  ;; keys row `row` computes: all S, or with causal those up to its query's position t + S − T, t = row mod T (at
  ;; most S)
  (func $keys (param $row i32) (param $S i32) (param $T i32) (param $causal i32) (result i32)
    (local $n i32)
    (if (i32.eqz (local.get $causal)) (then (return (local.get $S))))
    (local.set $n (i32.add (i32.rem_u (local.get $row) (local.get $T))
      (i32.add (i32.const 1) (i32.sub (local.get $S) (local.get $T)))))
    (select (local.get $S) (local.get $n) (i32.gt_u (local.get $n) (local.get $S))))

  ;; one row: p[j] = exp(x[j] + m[j] − max) / Σ over its first n keys, p[j] = 0 for the other S − n
  (func $softmax_row (param $p i32) (param $x i32) (param $m i32) (param $n i32) (param $S i32)
    (local $j i32) (local $S4 i32) (local $o i32) (local $v v128) (local $mv v128) (local $max f32)
    (local $e v128) (local $acc v128) (local $sum f32) (local $s f32)
    (local.set $S4 (i32.and (local.get $n) (i32.const -4)))
    ;; p = x + m, and its max (a NaN anywhere makes the row NaN)
    (local.set $mv (v128.const f32x4 -inf -inf -inf -inf))
    (block $add_done
      (loop $add4
        (br_if $add_done (i32.ge_u (local.get $j) (local.get $S4)))
        (local.set $o (i32.shl (local.get $j) (i32.const 2)))
        (local.set $v (f32x4.add (v128.load (i32.add (local.get $x) (local.get $o)))
                                 (v128.load (i32.add (local.get $m) (local.get $o)))))
        (v128.store (i32.add (local.get $p) (local.get $o)) (local.get $v))
        (local.set $mv (f32x4.max (local.get $mv) (local.get $v)))
        (local.set $j (i32.add (local.get $j) (i32.const 4)))
        (br $add4)))
    (local.set $max (f32.max
      (f32.max (f32x4.extract_lane 0 (local.get $mv)) (f32x4.extract_lane 1 (local.get $mv)))
      (f32.max (f32x4.extract_lane 2 (local.get $mv)) (f32x4.extract_lane 3 (local.get $mv)))))
    (block $add_tail_done
      (loop $add_tail
        (br_if $add_tail_done (i32.ge_u (local.get $j) (local.get $n)))
        (local.set $o (i32.shl (local.get $j) (i32.const 2)))
        (local.set $s (f32.add (f32.load (i32.add (local.get $x) (local.get $o)))
                               (f32.load (i32.add (local.get $m) (local.get $o)))))
        (f32.store (i32.add (local.get $p) (local.get $o)) (local.get $s))
        (local.set $max (f32.max (local.get $max) (local.get $s)))
        (local.set $j (i32.add (local.get $j) (i32.const 1)))
        (br $add_tail)))
    ;; p = exp(p − max), and Σ p
    (local.set $mv (f32x4.splat (local.get $max)))
    (local.set $acc (v128.const f32x4 0 0 0 0))
    (local.set $j (i32.const 0))
    (block $exp_done
      (loop $exp4s
        (br_if $exp_done (i32.ge_u (local.get $j) (local.get $S4)))
        (local.set $o (i32.add (local.get $p) (i32.shl (local.get $j) (i32.const 2))))
        (local.set $e (call $exp4 (f32x4.sub (v128.load (local.get $o)) (local.get $mv))))
        (v128.store (local.get $o) (local.get $e))
        (local.set $acc (f32x4.add (local.get $acc) (local.get $e)))
        (local.set $j (i32.add (local.get $j) (i32.const 4)))
        (br $exp4s)))
    (local.set $sum (f32.add
      (f32.add (f32x4.extract_lane 0 (local.get $acc)) (f32x4.extract_lane 1 (local.get $acc)))
      (f32.add (f32x4.extract_lane 2 (local.get $acc)) (f32x4.extract_lane 3 (local.get $acc)))))
    (block $exp_tail_done
      (loop $exp_tail
        (br_if $exp_tail_done (i32.ge_u (local.get $j) (local.get $n)))
        (local.set $o (i32.add (local.get $p) (i32.shl (local.get $j) (i32.const 2))))
        (local.set $s (f32x4.extract_lane 0
          (call $exp4 (f32x4.splat (f32.sub (f32.load (local.get $o)) (local.get $max))))))
        (f32.store (local.get $o) (local.get $s))
        (local.set $sum (f32.add (local.get $sum) (local.get $s)))
        (local.set $j (i32.add (local.get $j) (i32.const 1)))
        (br $exp_tail)))
    ;; p = p × 1/Σ
    (local.set $s (f32.div (f32.const 1) (local.get $sum)))
    (local.set $mv (f32x4.splat (local.get $s)))
    (local.set $j (i32.const 0))
    (block $scale_done
      (loop $scale4
        (br_if $scale_done (i32.ge_u (local.get $j) (local.get $S4)))
        (local.set $o (i32.add (local.get $p) (i32.shl (local.get $j) (i32.const 2))))
        (v128.store (local.get $o) (f32x4.mul (v128.load (local.get $o)) (local.get $mv)))
        (local.set $j (i32.add (local.get $j) (i32.const 4)))
        (br $scale4)))
    (block $scale_tail_done
      (loop $scale_tail
        (br_if $scale_tail_done (i32.ge_u (local.get $j) (local.get $n)))
        (local.set $o (i32.add (local.get $p) (i32.shl (local.get $j) (i32.const 2))))
        (f32.store (local.get $o) (f32.mul (f32.load (local.get $o)) (local.get $s)))
        (local.set $j (i32.add (local.get $j) (i32.const 1)))
        (br $scale_tail)))
    ;; the keys the causal mask hides
    (memory.fill (i32.add (local.get $p) (i32.shl (local.get $n) (i32.const 2))) (i32.const 0)
      (i32.shl (i32.sub (local.get $S) (local.get $n)) (i32.const 2))))

  (func (export "masked_softmax") (param $p i32) (param $x i32) (param $mask i32) (param $B i32) (param $G i32)
    (param $T i32) (param $S i32) (param $perBatch i32) (param $causal i32)
    (local $b i32) (local $g i32) (local $t i32) (local $rowBytes i32) (local $maskBytes i32) (local $mb i32)
    (local.set $rowBytes (i32.shl (local.get $S) (i32.const 2)))
    (local.set $maskBytes (i32.mul (local.get $T) (local.get $rowBytes)))
    (block $b_done
      (loop $each_b
        (br_if $b_done (i32.ge_u (local.get $b) (local.get $B)))
        (local.set $mb (i32.add (local.get $mask)
          (i32.mul (i32.mul (local.get $b) (local.get $perBatch)) (local.get $maskBytes))))
        (local.set $g (i32.const 0))
        (block $g_done
          (loop $each_g
            (br_if $g_done (i32.ge_u (local.get $g) (local.get $G)))
            (local.set $t (i32.const 0))
            (block $t_done
              (loop $each_t
                (br_if $t_done (i32.ge_u (local.get $t) (local.get $T)))
                (call $softmax_row (local.get $p) (local.get $x)
                  (i32.add (local.get $mb) (i32.mul (local.get $t) (local.get $rowBytes)))
                  (call $keys (local.get $t) (local.get $S) (local.get $T) (local.get $causal)) (local.get $S))
                (local.set $p (i32.add (local.get $p) (local.get $rowBytes)))
                (local.set $x (i32.add (local.get $x) (local.get $rowBytes)))
                (local.set $t (i32.add (local.get $t) (i32.const 1)))
                (br $each_t)))
            (local.set $g (i32.add (local.get $g) (i32.const 1)))
            (br $each_g)))
        (local.set $b (i32.add (local.get $b) (i32.const 1)))
        (br $each_b))))

  (func (export "softmax_grad") (param $dx i32) (param $dy i32) (param $p i32) (param $rows i32) (param $S i32)
                                (param $T i32) (param $causal i32)
    (local $row i32) (local $j i32) (local $S4 i32) (local $rowBytes i32) (local $n i32)
    (local $acc v128) (local $dot f32) (local $dotv v128) (local $o i32)
    (local.set $rowBytes (i32.shl (local.get $S) (i32.const 2)))
    (block $rows_done
      (loop $each_row
        (br_if $rows_done (i32.ge_u (local.get $row) (local.get $rows)))
        ;; with causal, p is 0 past the row's query (row mod T), and dy there is not read (attention's causal
        ;; products leave it unwritten)
        (local.set $n (call $keys (local.get $row) (local.get $S) (local.get $T) (local.get $causal)))
        (local.set $S4 (i32.and (local.get $n) (i32.const -4)))
        ;; dot = Σ_j p[j]·dy[j]
        (local.set $acc (v128.const f32x4 0 0 0 0))
        (local.set $j (i32.const 0))
        (block $dot_done
          (loop $dot4
            (br_if $dot_done (i32.ge_u (local.get $j) (local.get $S4)))
            (local.set $o (i32.shl (local.get $j) (i32.const 2)))
            (local.set $acc (f32x4.add (local.get $acc)
              (f32x4.mul (v128.load (i32.add (local.get $p) (local.get $o)))
                         (v128.load (i32.add (local.get $dy) (local.get $o))))))
            (local.set $j (i32.add (local.get $j) (i32.const 4)))
            (br $dot4)))
        (local.set $dot (f32.add
          (f32.add (f32x4.extract_lane 0 (local.get $acc)) (f32x4.extract_lane 1 (local.get $acc)))
          (f32.add (f32x4.extract_lane 2 (local.get $acc)) (f32x4.extract_lane 3 (local.get $acc)))))
        (block $tail_done
          (loop $tail
            (br_if $tail_done (i32.ge_u (local.get $j) (local.get $n)))
            (local.set $o (i32.shl (local.get $j) (i32.const 2)))
            (local.set $dot (f32.add (local.get $dot)
              (f32.mul (f32.load (i32.add (local.get $p) (local.get $o)))
                       (f32.load (i32.add (local.get $dy) (local.get $o))))))
            (local.set $j (i32.add (local.get $j) (i32.const 1)))
            (br $tail)))
        ;; dx[j] = p[j]·(dy[j] − dot)
        (local.set $dotv (f32x4.splat (local.get $dot)))
        (local.set $j (i32.const 0))
        (block $out_done
          (loop $out4
            (br_if $out_done (i32.ge_u (local.get $j) (local.get $S4)))
            (local.set $o (i32.shl (local.get $j) (i32.const 2)))
            (v128.store (i32.add (local.get $dx) (local.get $o))
              (f32x4.mul (v128.load (i32.add (local.get $p) (local.get $o)))
                         (f32x4.sub (v128.load (i32.add (local.get $dy) (local.get $o))) (local.get $dotv))))
            (local.set $j (i32.add (local.get $j) (i32.const 4)))
            (br $out4)))
        (block $out_tail_done
          (loop $out_tail
            (br_if $out_tail_done (i32.ge_u (local.get $j) (local.get $n)))
            (local.set $o (i32.shl (local.get $j) (i32.const 2)))
            (f32.store (i32.add (local.get $dx) (local.get $o))
              (f32.mul (f32.load (i32.add (local.get $p) (local.get $o)))
                       (f32.sub (f32.load (i32.add (local.get $dy) (local.get $o))) (local.get $dot))))
            (local.set $j (i32.add (local.get $j) (i32.const 1)))
            (br $out_tail)))
        (memory.fill (i32.add (local.get $dx) (i32.shl (local.get $n) (i32.const 2))) (i32.const 0)
          (i32.shl (i32.sub (local.get $S) (local.get $n)) (i32.const 2)))
        (local.set $dx (i32.add (local.get $dx) (local.get $rowBytes)))
        (local.set $dy (i32.add (local.get $dy) (local.get $rowBytes)))
        (local.set $p (i32.add (local.get $p) (local.get $rowBytes)))
        (local.set $row (i32.add (local.get $row) (i32.const 1)))
        (br $each_row)))))
