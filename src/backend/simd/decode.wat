;; The host decoder's kernels (src/generate/host/): llama2.c run.c's forward pass, on a WebAssembly.Memory of the
;; decoder's own (imported), where the weights are laid out once, row-major (out, in), next to the KV caches and the
;; activations. Pointers are byte offsets into that memory, sizes are element counts, floats are float32.
;;
;; matmul is the decode step's cost: every weight is read once per step, so it is written for bandwidth (four
;; weight rows streamed together, eight f32x4 partial sums, no horizontal sum before a row's end) and for rows > 1
;; (several tokens, or several sequences on the same weights) it reuses the four rows from cache for every x row.
;; exp is a float32 polynomial (range reduction by ln 2, degree-7 Taylor, ~1e-7 relative error), four lanes at a time.
;; Built into decode-wasm.ts by scripts/build-wasm.mjs.
(module
  (import "env" "memory" (memory 0))

  ;; ---------------------------------------------------------------- helpers

  ;; the sum of the four lanes
  (func $hsum (param $v v128) (result f32)
    (f32.add
      (f32.add (f32x4.extract_lane 0 (local.get $v)) (f32x4.extract_lane 1 (local.get $v)))
      (f32.add (f32x4.extract_lane 2 (local.get $v)) (f32x4.extract_lane 3 (local.get $v)))))

  ;; (Σa0, Σa1, Σa2, Σa3): the lane sums of four vectors, as one vector
  (func $hsum4 (param $a0 v128) (param $a1 v128) (param $a2 v128) (param $a3 v128) (result v128)
    (local $s01 v128) (local $s23 v128)
    ;; s01 = (a0.0 + a0.2, a1.0 + a1.2, a0.1 + a0.3, a1.1 + a1.3), s23 alike
    (local.set $s01 (f32x4.add
      (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $a0) (local.get $a1))
      (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $a0) (local.get $a1))))
    (local.set $s23 (f32x4.add
      (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $a2) (local.get $a3))
      (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $a2) (local.get $a3))))
    (f32x4.add
      (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $s01) (local.get $s23))
      (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $s01) (local.get $s23))))

  ;; Σ a[i]·b[i], i < n
  (func $dot (param $a i32) (param $b i32) (param $n i32) (result f32)
    (local $i i32) (local $o i32) (local $n8 i32) (local $n4 i32) (local $s0 v128) (local $s1 v128) (local $s f32)
    (local.set $n8 (i32.and (local.get $n) (i32.const -8)))
    (local.set $n4 (i32.and (local.get $n) (i32.const -4)))
    (block $done8
      (loop $each8
        (br_if $done8 (i32.ge_u (local.get $i) (local.get $n8)))
        (local.set $o (i32.shl (local.get $i) (i32.const 2)))
        (local.set $s0 (f32x4.add (local.get $s0)
          (f32x4.mul (v128.load (i32.add (local.get $a) (local.get $o))) (v128.load (i32.add (local.get $b) (local.get $o))))))
        (local.set $s1 (f32x4.add (local.get $s1)
          (f32x4.mul (v128.load offset=16 (i32.add (local.get $a) (local.get $o)))
                     (v128.load offset=16 (i32.add (local.get $b) (local.get $o))))))
        (local.set $i (i32.add (local.get $i) (i32.const 8)))
        (br $each8)))
    (if (i32.lt_u (local.get $i) (local.get $n4))
      (then
        (local.set $o (i32.shl (local.get $i) (i32.const 2)))
        (local.set $s0 (f32x4.add (local.get $s0)
          (f32x4.mul (v128.load (i32.add (local.get $a) (local.get $o))) (v128.load (i32.add (local.get $b) (local.get $o))))))
        (local.set $i (i32.add (local.get $i) (i32.const 4)))))
    (local.set $s (call $hsum (f32x4.add (local.get $s0) (local.get $s1))))
    (block $done
      (loop $each
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $o (i32.shl (local.get $i) (i32.const 2)))
        (local.set $s (f32.add (local.get $s)
          (f32.mul (f32.load (i32.add (local.get $a) (local.get $o))) (f32.load (i32.add (local.get $b) (local.get $o))))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $each)))
    (local.get $s))

  ;; include parts/exp.wat

  ;; e^x of one float, through the four-lane version (the same value as a lane would get)
  (func $exp1 (param $x f32) (result f32)
    (f32x4.extract_lane 0 (call $exp4 (f32x4.splat (local.get $x)))))

  ;; ---------------------------------------------------------------- exported kernels

  ;; out (rows, m) = x (rows, n) · Wᵀ + b, W (m, n) row-major, b (m) or 0; with $acc, out += that instead
  ;; (the residual add: the sum x·Wᵀ + b is formed first, then added to out).
  (func (export "matmul") (param $out i32) (param $x i32) (param $w i32) (param $b i32)
                          (param $n i32) (param $m i32) (param $rows i32) (param $acc i32)
    (local $j i32) (local $m4 i32) (local $r i32) (local $i i32) (local $o i32) (local $n8 i32) (local $n4 i32)
    (local $rowB i32) (local $w0 i32) (local $w1 i32) (local $w2 i32) (local $w3 i32) (local $xr i32) (local $dst i32)
    (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128)
    (local $c0 v128) (local $c1 v128) (local $c2 v128) (local $c3 v128)
    (local $xv v128) (local $xu v128) (local $s v128)
    (local $t0 f32) (local $t1 f32) (local $t2 f32) (local $t3 f32) (local $xs f32) (local $y f32)
    (local.set $m4 (i32.and (local.get $m) (i32.const -4)))
    (local.set $n8 (i32.and (local.get $n) (i32.const -8)))
    (local.set $n4 (i32.and (local.get $n) (i32.const -4)))
    (local.set $rowB (i32.shl (local.get $n) (i32.const 2)))
    ;; four output columns (weight rows) at a time
    (block $blocks_done
      (loop $blocks
        (br_if $blocks_done (i32.ge_u (local.get $j) (local.get $m4)))
        (local.set $w0 (i32.add (local.get $w) (i32.mul (local.get $j) (local.get $rowB))))
        (local.set $w1 (i32.add (local.get $w0) (local.get $rowB)))
        (local.set $w2 (i32.add (local.get $w1) (local.get $rowB)))
        (local.set $w3 (i32.add (local.get $w2) (local.get $rowB)))
        (local.set $r (i32.const 0))
        (block $rows_done
          (loop $each_row
            (br_if $rows_done (i32.ge_u (local.get $r) (local.get $rows)))
            (local.set $xr (i32.add (local.get $x) (i32.mul (local.get $r) (local.get $rowB))))
            (local.set $a0 (v128.const i32x4 0 0 0 0))
            (local.set $a1 (v128.const i32x4 0 0 0 0))
            (local.set $a2 (v128.const i32x4 0 0 0 0))
            (local.set $a3 (v128.const i32x4 0 0 0 0))
            (local.set $c0 (v128.const i32x4 0 0 0 0))
            (local.set $c1 (v128.const i32x4 0 0 0 0))
            (local.set $c2 (v128.const i32x4 0 0 0 0))
            (local.set $c3 (v128.const i32x4 0 0 0 0))
            (local.set $i (i32.const 0))
            (block $done8
              (loop $each8
                (br_if $done8 (i32.ge_u (local.get $i) (local.get $n8)))
                (local.set $o (i32.shl (local.get $i) (i32.const 2)))
                (local.set $xv (v128.load (i32.add (local.get $xr) (local.get $o))))
                (local.set $xu (v128.load offset=16 (i32.add (local.get $xr) (local.get $o))))
                (local.set $a0 (f32x4.add (local.get $a0) (f32x4.mul (local.get $xv) (v128.load (i32.add (local.get $w0) (local.get $o))))))
                (local.set $a1 (f32x4.add (local.get $a1) (f32x4.mul (local.get $xv) (v128.load (i32.add (local.get $w1) (local.get $o))))))
                (local.set $a2 (f32x4.add (local.get $a2) (f32x4.mul (local.get $xv) (v128.load (i32.add (local.get $w2) (local.get $o))))))
                (local.set $a3 (f32x4.add (local.get $a3) (f32x4.mul (local.get $xv) (v128.load (i32.add (local.get $w3) (local.get $o))))))
                (local.set $c0 (f32x4.add (local.get $c0) (f32x4.mul (local.get $xu) (v128.load offset=16 (i32.add (local.get $w0) (local.get $o))))))
                (local.set $c1 (f32x4.add (local.get $c1) (f32x4.mul (local.get $xu) (v128.load offset=16 (i32.add (local.get $w1) (local.get $o))))))
                (local.set $c2 (f32x4.add (local.get $c2) (f32x4.mul (local.get $xu) (v128.load offset=16 (i32.add (local.get $w2) (local.get $o))))))
                (local.set $c3 (f32x4.add (local.get $c3) (f32x4.mul (local.get $xu) (v128.load offset=16 (i32.add (local.get $w3) (local.get $o))))))
                (local.set $i (i32.add (local.get $i) (i32.const 8)))
                (br $each8)))
            (if (i32.lt_u (local.get $i) (local.get $n4))
              (then
                (local.set $o (i32.shl (local.get $i) (i32.const 2)))
                (local.set $xv (v128.load (i32.add (local.get $xr) (local.get $o))))
                (local.set $a0 (f32x4.add (local.get $a0) (f32x4.mul (local.get $xv) (v128.load (i32.add (local.get $w0) (local.get $o))))))
                (local.set $a1 (f32x4.add (local.get $a1) (f32x4.mul (local.get $xv) (v128.load (i32.add (local.get $w1) (local.get $o))))))
                (local.set $a2 (f32x4.add (local.get $a2) (f32x4.mul (local.get $xv) (v128.load (i32.add (local.get $w2) (local.get $o))))))
                (local.set $a3 (f32x4.add (local.get $a3) (f32x4.mul (local.get $xv) (v128.load (i32.add (local.get $w3) (local.get $o))))))
                (local.set $i (i32.add (local.get $i) (i32.const 4)))))
            ;; the n mod 4 tail, one element at a time
            (local.set $t0 (f32.const 0))
            (local.set $t1 (f32.const 0))
            (local.set $t2 (f32.const 0))
            (local.set $t3 (f32.const 0))
            (block $tail_done
              (loop $tail
                (br_if $tail_done (i32.ge_u (local.get $i) (local.get $n)))
                (local.set $o (i32.shl (local.get $i) (i32.const 2)))
                (local.set $xs (f32.load (i32.add (local.get $xr) (local.get $o))))
                (local.set $t0 (f32.add (local.get $t0) (f32.mul (local.get $xs) (f32.load (i32.add (local.get $w0) (local.get $o))))))
                (local.set $t1 (f32.add (local.get $t1) (f32.mul (local.get $xs) (f32.load (i32.add (local.get $w1) (local.get $o))))))
                (local.set $t2 (f32.add (local.get $t2) (f32.mul (local.get $xs) (f32.load (i32.add (local.get $w2) (local.get $o))))))
                (local.set $t3 (f32.add (local.get $t3) (f32.mul (local.get $xs) (f32.load (i32.add (local.get $w3) (local.get $o))))))
                (local.set $i (i32.add (local.get $i) (i32.const 1)))
                (br $tail)))
            (local.set $s (call $hsum4
              (f32x4.add (local.get $a0) (local.get $c0)) (f32x4.add (local.get $a1) (local.get $c1))
              (f32x4.add (local.get $a2) (local.get $c2)) (f32x4.add (local.get $a3) (local.get $c3))))
            (local.set $s (f32x4.add (local.get $s)
              (f32x4.replace_lane 3 (f32x4.replace_lane 2 (f32x4.replace_lane 1 (f32x4.splat (local.get $t0))
                (local.get $t1)) (local.get $t2)) (local.get $t3))))
            (if (local.get $b)
              (then (local.set $s (f32x4.add (local.get $s)
                (v128.load (i32.add (local.get $b) (i32.shl (local.get $j) (i32.const 2))))))))
            (local.set $dst (i32.add (local.get $out)
              (i32.shl (i32.add (i32.mul (local.get $r) (local.get $m)) (local.get $j)) (i32.const 2))))
            (if (local.get $acc)
              (then (local.set $s (f32x4.add (v128.load (local.get $dst)) (local.get $s)))))
            (v128.store (local.get $dst) (local.get $s))
            (local.set $r (i32.add (local.get $r) (i32.const 1)))
            (br $each_row)))
        (local.set $j (i32.add (local.get $j) (i32.const 4)))
        (br $blocks)))
    ;; the m mod 4 remaining columns, one dot product each
    (block $cols_done
      (loop $cols
        (br_if $cols_done (i32.ge_u (local.get $j) (local.get $m)))
        (local.set $w0 (i32.add (local.get $w) (i32.mul (local.get $j) (local.get $rowB))))
        (local.set $r (i32.const 0))
        (block $rows2_done
          (loop $rows2
            (br_if $rows2_done (i32.ge_u (local.get $r) (local.get $rows)))
            (local.set $y (call $dot (i32.add (local.get $x) (i32.mul (local.get $r) (local.get $rowB))) (local.get $w0) (local.get $n)))
            (if (local.get $b)
              (then (local.set $y (f32.add (local.get $y) (f32.load (i32.add (local.get $b) (i32.shl (local.get $j) (i32.const 2))))))))
            (local.set $dst (i32.add (local.get $out)
              (i32.shl (i32.add (i32.mul (local.get $r) (local.get $m)) (local.get $j)) (i32.const 2))))
            (if (local.get $acc)
              (then (local.set $y (f32.add (f32.load (local.get $dst)) (local.get $y)))))
            (f32.store (local.get $dst) (local.get $y))
            (local.set $r (i32.add (local.get $r) (i32.const 1)))
            (br $rows2)))
        (local.set $j (i32.add (local.get $j) (i32.const 1)))
        (br $cols))))

  ;; The same product over W laid out in packed blocks (host/weights.ts packBlocks): rows 4j … 4j+3 of W (m, n)
  ;; occupy the same 4n floats as in row-major order, but as n/8 chunks of 32 floats (eight columns of row 4j, the
  ;; same eight of 4j+1, 4j+2, 4j+3), then the n mod 8 remaining columns of the four rows, row by row; the m mod 4
  ;; last rows stay row-major. A block is then read as one forward stream instead of four, which a decode step at
  ;; the memory limit reads faster.
  (func (export "matmulPacked") (param $out i32) (param $x i32) (param $w i32) (param $b i32)
                                (param $n i32) (param $m i32) (param $rows i32) (param $acc i32)
    (local $j i32) (local $m4 i32) (local $r i32) (local $i i32) (local $n8 i32) (local $nt i32)
    (local $rowB i32) (local $blk i32) (local $p i32) (local $xp i32) (local $xr i32) (local $dst i32)
    (local $tl i32) (local $o i32)
    (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128)
    (local $c0 v128) (local $c1 v128) (local $c2 v128) (local $c3 v128)
    (local $xv v128) (local $xu v128) (local $s v128)
    (local $t0 f32) (local $t1 f32) (local $t2 f32) (local $t3 f32) (local $xs f32) (local $y f32)
    (local.set $m4 (i32.and (local.get $m) (i32.const -4)))
    (local.set $n8 (i32.and (local.get $n) (i32.const -8)))
    (local.set $nt (i32.sub (local.get $n) (local.get $n8)))
    (local.set $rowB (i32.shl (local.get $n) (i32.const 2)))
    (block $blocks_done
      (loop $blocks
        (br_if $blocks_done (i32.ge_u (local.get $j) (local.get $m4)))
        (local.set $blk (i32.add (local.get $w) (i32.mul (local.get $j) (local.get $rowB))))
        ;; the block's tail columns start after its n/8 chunks of 128 bytes
        (local.set $tl (i32.add (local.get $blk) (i32.shl (local.get $n8) (i32.const 4))))
        (local.set $r (i32.const 0))
        (block $rows_done
          (loop $each_row
            (br_if $rows_done (i32.ge_u (local.get $r) (local.get $rows)))
            (local.set $xr (i32.add (local.get $x) (i32.mul (local.get $r) (local.get $rowB))))
            (local.set $a0 (v128.const i32x4 0 0 0 0))
            (local.set $a1 (v128.const i32x4 0 0 0 0))
            (local.set $a2 (v128.const i32x4 0 0 0 0))
            (local.set $a3 (v128.const i32x4 0 0 0 0))
            (local.set $c0 (v128.const i32x4 0 0 0 0))
            (local.set $c1 (v128.const i32x4 0 0 0 0))
            (local.set $c2 (v128.const i32x4 0 0 0 0))
            (local.set $c3 (v128.const i32x4 0 0 0 0))
            (local.set $p (local.get $blk))
            (local.set $xp (local.get $xr))
            (local.set $i (i32.const 0))
            (block $done8
              (loop $each8
                (br_if $done8 (i32.ge_u (local.get $i) (local.get $n8)))
                (local.set $xv (v128.load (local.get $xp)))
                (local.set $xu (v128.load offset=16 (local.get $xp)))
                (local.set $a0 (f32x4.add (local.get $a0) (f32x4.mul (local.get $xv) (v128.load (local.get $p)))))
                (local.set $c0 (f32x4.add (local.get $c0) (f32x4.mul (local.get $xu) (v128.load offset=16 (local.get $p)))))
                (local.set $a1 (f32x4.add (local.get $a1) (f32x4.mul (local.get $xv) (v128.load offset=32 (local.get $p)))))
                (local.set $c1 (f32x4.add (local.get $c1) (f32x4.mul (local.get $xu) (v128.load offset=48 (local.get $p)))))
                (local.set $a2 (f32x4.add (local.get $a2) (f32x4.mul (local.get $xv) (v128.load offset=64 (local.get $p)))))
                (local.set $c2 (f32x4.add (local.get $c2) (f32x4.mul (local.get $xu) (v128.load offset=80 (local.get $p)))))
                (local.set $a3 (f32x4.add (local.get $a3) (f32x4.mul (local.get $xv) (v128.load offset=96 (local.get $p)))))
                (local.set $c3 (f32x4.add (local.get $c3) (f32x4.mul (local.get $xu) (v128.load offset=112 (local.get $p)))))
                (local.set $p (i32.add (local.get $p) (i32.const 128)))
                (local.set $xp (i32.add (local.get $xp) (i32.const 32)))
                (local.set $i (i32.add (local.get $i) (i32.const 8)))
                (br $each8)))
            ;; the n mod 8 tail, one column at a time (row k's tail at tl + k·nt floats)
            (local.set $t0 (f32.const 0))
            (local.set $t1 (f32.const 0))
            (local.set $t2 (f32.const 0))
            (local.set $t3 (f32.const 0))
            (local.set $i (i32.const 0))
            (block $tail_done
              (loop $tail
                (br_if $tail_done (i32.ge_u (local.get $i) (local.get $nt)))
                (local.set $xs (f32.load (i32.add (local.get $xr) (i32.shl (i32.add (local.get $n8) (local.get $i)) (i32.const 2)))))
                (local.set $o (i32.add (local.get $tl) (i32.shl (local.get $i) (i32.const 2))))
                (local.set $t0 (f32.add (local.get $t0) (f32.mul (local.get $xs) (f32.load (local.get $o)))))
                (local.set $o (i32.add (local.get $o) (i32.shl (local.get $nt) (i32.const 2))))
                (local.set $t1 (f32.add (local.get $t1) (f32.mul (local.get $xs) (f32.load (local.get $o)))))
                (local.set $o (i32.add (local.get $o) (i32.shl (local.get $nt) (i32.const 2))))
                (local.set $t2 (f32.add (local.get $t2) (f32.mul (local.get $xs) (f32.load (local.get $o)))))
                (local.set $o (i32.add (local.get $o) (i32.shl (local.get $nt) (i32.const 2))))
                (local.set $t3 (f32.add (local.get $t3) (f32.mul (local.get $xs) (f32.load (local.get $o)))))
                (local.set $i (i32.add (local.get $i) (i32.const 1)))
                (br $tail)))
            (local.set $s (call $hsum4
              (f32x4.add (local.get $a0) (local.get $c0)) (f32x4.add (local.get $a1) (local.get $c1))
              (f32x4.add (local.get $a2) (local.get $c2)) (f32x4.add (local.get $a3) (local.get $c3))))
            (local.set $s (f32x4.add (local.get $s)
              (f32x4.replace_lane 3 (f32x4.replace_lane 2 (f32x4.replace_lane 1 (f32x4.splat (local.get $t0))
                (local.get $t1)) (local.get $t2)) (local.get $t3))))
            (if (local.get $b)
              (then (local.set $s (f32x4.add (local.get $s)
                (v128.load (i32.add (local.get $b) (i32.shl (local.get $j) (i32.const 2))))))))
            (local.set $dst (i32.add (local.get $out)
              (i32.shl (i32.add (i32.mul (local.get $r) (local.get $m)) (local.get $j)) (i32.const 2))))
            (if (local.get $acc)
              (then (local.set $s (f32x4.add (v128.load (local.get $dst)) (local.get $s)))))
            (v128.store (local.get $dst) (local.get $s))
            (local.set $r (i32.add (local.get $r) (i32.const 1)))
            (br $each_row)))
        (local.set $j (i32.add (local.get $j) (i32.const 4)))
        (br $blocks)))
    ;; the m mod 4 remaining rows (row-major), one dot product each
    (block $cols_done
      (loop $cols
        (br_if $cols_done (i32.ge_u (local.get $j) (local.get $m)))
        (local.set $r (i32.const 0))
        (block $rows2_done
          (loop $rows2
            (br_if $rows2_done (i32.ge_u (local.get $r) (local.get $rows)))
            (local.set $y (call $dot (i32.add (local.get $x) (i32.mul (local.get $r) (local.get $rowB)))
              (i32.add (local.get $w) (i32.mul (local.get $j) (local.get $rowB))) (local.get $n)))
            (if (local.get $b)
              (then (local.set $y (f32.add (local.get $y) (f32.load (i32.add (local.get $b) (i32.shl (local.get $j) (i32.const 2))))))))
            (local.set $dst (i32.add (local.get $out)
              (i32.shl (i32.add (i32.mul (local.get $r) (local.get $m)) (local.get $j)) (i32.const 2))))
            (if (local.get $acc)
              (then (local.set $y (f32.add (f32.load (local.get $dst)) (local.get $y)))))
            (f32.store (local.get $dst) (local.get $y))
            (local.set $r (i32.add (local.get $r) (i32.const 1)))
            (br $rows2)))
        (local.set $j (i32.add (local.get $j) (i32.const 1)))
        (br $cols))))

  ;; out (rows, n) = w ⊙ x·r per row, r = 1/√(mean(x²) + eps) (run.c rmsnorm); out may be x
  (func (export "rmsnorm") (param $out i32) (param $x i32) (param $w i32) (param $n i32) (param $rows i32) (param $eps f32)
    (local $r i32) (local $i i32) (local $o i32) (local $n4 i32) (local $rowB i32) (local $inv f32) (local $iv v128)
    (local.set $n4 (i32.and (local.get $n) (i32.const -4)))
    (local.set $rowB (i32.shl (local.get $n) (i32.const 2)))
    (block $rows_done
      (loop $rows
        (br_if $rows_done (i32.ge_u (local.get $r) (local.get $rows)))
        (local.set $inv (f32.div (f32.const 1) (f32.sqrt (f32.add
          (f32.div (call $dot (local.get $x) (local.get $x) (local.get $n)) (f32.convert_i32_u (local.get $n)))
          (local.get $eps)))))
        (local.set $iv (f32x4.splat (local.get $inv)))
        (local.set $i (i32.const 0))
        (block $vec_done
          (loop $vec
            (br_if $vec_done (i32.ge_u (local.get $i) (local.get $n4)))
            (local.set $o (i32.shl (local.get $i) (i32.const 2)))
            (v128.store (i32.add (local.get $out) (local.get $o))
              (f32x4.mul (v128.load (i32.add (local.get $w) (local.get $o)))
                         (f32x4.mul (local.get $iv) (v128.load (i32.add (local.get $x) (local.get $o))))))
            (local.set $i (i32.add (local.get $i) (i32.const 4)))
            (br $vec)))
        (block $tail_done
          (loop $tail
            (br_if $tail_done (i32.ge_u (local.get $i) (local.get $n)))
            (local.set $o (i32.shl (local.get $i) (i32.const 2)))
            (f32.store (i32.add (local.get $out) (local.get $o))
              (f32.mul (f32.load (i32.add (local.get $w) (local.get $o)))
                       (f32.mul (local.get $inv) (f32.load (i32.add (local.get $x) (local.get $o))))))
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (br $tail)))
        (local.set $out (i32.add (local.get $out) (local.get $rowB)))
        (local.set $x (i32.add (local.get $x) (local.get $rowB)))
        (local.set $r (i32.add (local.get $r) (i32.const 1)))
        (br $rows))))

  ;; rotates the pairs (2i, 2i+1) of every head of v (n floats, heads of hs) by the angles whose cos and sin are
  ;; cs[i], sn[i] (i < hs/2): v0' = v0·c − v1·s, v1' = v0·s + v1·c
  (func (export "rope") (param $v i32) (param $cs i32) (param $sn i32) (param $n i32) (param $hs i32)
    (local $h i32) (local $p i32) (local $half i32) (local $a i32) (local $t i32)
    (local $c f32) (local $s f32) (local $v0 f32) (local $v1 f32)
    (local.set $half (i32.shr_u (local.get $hs) (i32.const 1)))
    (block $heads_done
      (loop $heads
        (br_if $heads_done (i32.ge_u (local.get $h) (local.get $n)))
        (local.set $p (i32.const 0))
        (block $pairs_done
          (loop $pairs
            (br_if $pairs_done (i32.ge_u (local.get $p) (local.get $half)))
            (local.set $t (i32.shl (local.get $p) (i32.const 2)))
            (local.set $c (f32.load (i32.add (local.get $cs) (local.get $t))))
            (local.set $s (f32.load (i32.add (local.get $sn) (local.get $t))))
            (local.set $a (i32.add (local.get $v) (i32.shl (i32.add (local.get $h) (i32.shl (local.get $p) (i32.const 1))) (i32.const 2))))
            (local.set $v0 (f32.load (local.get $a)))
            (local.set $v1 (f32.load offset=4 (local.get $a)))
            (f32.store (local.get $a)
              (f32.sub (f32.mul (local.get $v0) (local.get $c)) (f32.mul (local.get $v1) (local.get $s))))
            (f32.store offset=4 (local.get $a)
              (f32.add (f32.mul (local.get $v0) (local.get $s)) (f32.mul (local.get $v1) (local.get $c))))
            (local.set $p (i32.add (local.get $p) (i32.const 1)))
            (br $pairs)))
        (local.set $h (i32.add (local.get $h) (local.get $hs)))
        (br $heads))))

  ;; Causal attention of one token (run.c's head loop): q (nh·hs) against the keys and values of positions
  ;; 0 … len−1, at kc / vc + t·stride floats (kv head g at offset g·hs), query head h reading kv head h / (nh/nkv);
  ;; scores / √hs (as run.c divides), softmax (att: len floats of scratch), weighted sum of the values into out (nh·hs).
  (func (export "attention") (param $out i32) (param $q i32) (param $kc i32) (param $vc i32) (param $att i32)
                             (param $len i32) (param $nh i32) (param $nkv i32) (param $hs i32) (param $stride i32)
                             (param $sqrths f32)
    (local $h i32) (local $t i32) (local $i i32) (local $group i32) (local $strideB i32) (local $hsB i32)
    (local $qh i32) (local $koff i32) (local $oh i32) (local $len4 i32) (local $hs4 i32) (local $p i32) (local $o i32)
    (local $max f32) (local $sum f32) (local $s f32) (local $a f32)
    (local $maxv v128) (local $sumv v128) (local $e v128) (local $accv v128)
    (local.set $group (i32.div_u (local.get $nh) (local.get $nkv)))
    (local.set $strideB (i32.shl (local.get $stride) (i32.const 2)))
    (local.set $hsB (i32.shl (local.get $hs) (i32.const 2)))
    (local.set $len4 (i32.and (local.get $len) (i32.const -4)))
    (local.set $hs4 (i32.and (local.get $hs) (i32.const -4)))
    (block $heads_done
      (loop $heads
        (br_if $heads_done (i32.ge_u (local.get $h) (local.get $nh)))
        (local.set $qh (i32.add (local.get $q) (i32.mul (local.get $h) (local.get $hsB))))
        (local.set $koff (i32.mul (i32.div_u (local.get $h) (local.get $group)) (local.get $hsB)))
        ;; scores and their max
        (local.set $max (f32.const -inf))
        (local.set $t (i32.const 0))
        (local.set $p (i32.add (local.get $kc) (local.get $koff)))
        (block $scores_done
          (loop $scores
            (br_if $scores_done (i32.ge_u (local.get $t) (local.get $len)))
            (local.set $s (f32.div (call $dot (local.get $qh) (local.get $p) (local.get $hs)) (local.get $sqrths)))
            (f32.store (i32.add (local.get $att) (i32.shl (local.get $t) (i32.const 2))) (local.get $s))
            (local.set $max (f32.max (local.get $max) (local.get $s)))
            (local.set $p (i32.add (local.get $p) (local.get $strideB)))
            (local.set $t (i32.add (local.get $t) (i32.const 1)))
            (br $scores)))
        ;; exp(s − max) and its sum
        (local.set $maxv (f32x4.splat (local.get $max)))
        (local.set $sumv (v128.const i32x4 0 0 0 0))
        (local.set $t (i32.const 0))
        (block $exp_done
          (loop $exps
            (br_if $exp_done (i32.ge_u (local.get $t) (local.get $len4)))
            (local.set $o (i32.add (local.get $att) (i32.shl (local.get $t) (i32.const 2))))
            (local.set $e (call $exp4 (f32x4.sub (v128.load (local.get $o)) (local.get $maxv))))
            (v128.store (local.get $o) (local.get $e))
            (local.set $sumv (f32x4.add (local.get $sumv) (local.get $e)))
            (local.set $t (i32.add (local.get $t) (i32.const 4)))
            (br $exps)))
        (local.set $sum (call $hsum (local.get $sumv)))
        (block $exp_tail_done
          (loop $exp_tail
            (br_if $exp_tail_done (i32.ge_u (local.get $t) (local.get $len)))
            (local.set $o (i32.add (local.get $att) (i32.shl (local.get $t) (i32.const 2))))
            (local.set $a (call $exp1 (f32.sub (f32.load (local.get $o)) (local.get $max))))
            (f32.store (local.get $o) (local.get $a))
            (local.set $sum (f32.add (local.get $sum) (local.get $a)))
            (local.set $t (i32.add (local.get $t) (i32.const 1)))
            (br $exp_tail)))
        ;; normalise (run.c divides each weight by the sum)
        (local.set $t (i32.const 0))
        (block $norm_done
          (loop $norm
            (br_if $norm_done (i32.ge_u (local.get $t) (local.get $len)))
            (local.set $o (i32.add (local.get $att) (i32.shl (local.get $t) (i32.const 2))))
            (f32.store (local.get $o) (f32.div (f32.load (local.get $o)) (local.get $sum)))
            (local.set $t (i32.add (local.get $t) (i32.const 1)))
            (br $norm)))
        ;; out_h = Σ_t att[t]·v_t, four lanes of the head at a time, summed over t in order
        (local.set $oh (i32.add (local.get $out) (i32.mul (local.get $h) (local.get $hsB))))
        (local.set $i (i32.const 0))
        (block $lanes_done
          (loop $lanes
            (br_if $lanes_done (i32.ge_u (local.get $i) (local.get $hs4)))
            (local.set $accv (v128.const i32x4 0 0 0 0))
            (local.set $p (i32.add (i32.add (local.get $vc) (local.get $koff)) (i32.shl (local.get $i) (i32.const 2))))
            (local.set $t (i32.const 0))
            (block $t_done
              (loop $ts
                (br_if $t_done (i32.ge_u (local.get $t) (local.get $len)))
                (local.set $accv (f32x4.add (local.get $accv)
                  (f32x4.mul (v128.load32_splat (i32.add (local.get $att) (i32.shl (local.get $t) (i32.const 2))))
                             (v128.load (local.get $p)))))
                (local.set $p (i32.add (local.get $p) (local.get $strideB)))
                (local.set $t (i32.add (local.get $t) (i32.const 1)))
                (br $ts)))
            (v128.store (i32.add (local.get $oh) (i32.shl (local.get $i) (i32.const 2))) (local.get $accv))
            (local.set $i (i32.add (local.get $i) (i32.const 4)))
            (br $lanes)))
        (block $rest_done
          (loop $rest
            (br_if $rest_done (i32.ge_u (local.get $i) (local.get $hs)))
            (local.set $a (f32.const 0))
            (local.set $p (i32.add (i32.add (local.get $vc) (local.get $koff)) (i32.shl (local.get $i) (i32.const 2))))
            (local.set $t (i32.const 0))
            (block $t2_done
              (loop $t2
                (br_if $t2_done (i32.ge_u (local.get $t) (local.get $len)))
                (local.set $a (f32.add (local.get $a)
                  (f32.mul (f32.load (i32.add (local.get $att) (i32.shl (local.get $t) (i32.const 2))))
                           (f32.load (local.get $p)))))
                (local.set $p (i32.add (local.get $p) (local.get $strideB)))
                (local.set $t (i32.add (local.get $t) (i32.const 1)))
                (br $t2)))
            (f32.store (i32.add (local.get $oh) (i32.shl (local.get $i) (i32.const 2))) (local.get $a))
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (br $rest)))
        (local.set $h (i32.add (local.get $h) (i32.const 1)))
        (br $heads))))

  ;; h = silu(h) ⊙ g = (h / (1 + e^−h)) ⊙ g over n floats (run.c's SwiGLU)
  (func (export "swiglu") (param $h i32) (param $g i32) (param $n i32)
    (local $i i32) (local $o i32) (local $n4 i32) (local $v v128) (local $s f32)
    (local.set $n4 (i32.and (local.get $n) (i32.const -4)))
    (block $vec_done
      (loop $vec
        (br_if $vec_done (i32.ge_u (local.get $i) (local.get $n4)))
        (local.set $o (i32.shl (local.get $i) (i32.const 2)))
        (local.set $v (v128.load (i32.add (local.get $h) (local.get $o))))
        (v128.store (i32.add (local.get $h) (local.get $o))
          (f32x4.mul
            (f32x4.div (local.get $v) (f32x4.add (v128.const f32x4 1 1 1 1) (call $exp4 (f32x4.neg (local.get $v)))))
            (v128.load (i32.add (local.get $g) (local.get $o)))))
        (local.set $i (i32.add (local.get $i) (i32.const 4)))
        (br $vec)))
    (block $tail_done
      (loop $tail
        (br_if $tail_done (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $o (i32.shl (local.get $i) (i32.const 2)))
        (local.set $s (f32.load (i32.add (local.get $h) (local.get $o))))
        (f32.store (i32.add (local.get $h) (local.get $o))
          (f32.mul
            (f32.div (local.get $s) (f32.add (f32.const 1) (call $exp1 (f32.neg (local.get $s)))))
            (f32.load (i32.add (local.get $g) (local.get $o)))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $tail))))

  ;; Σ of n floats at p (n a multiple of 16), four vectors at a time: the bench's read-bandwidth probe
  (func (export "sum") (param $p i32) (param $n i32) (result f32)
    (local $i i32) (local $n16 i32) (local $s0 v128) (local $s1 v128) (local $s2 v128) (local $s3 v128)
    (local.set $n16 (i32.and (local.get $n) (i32.const -16)))
    (block $done
      (loop $each
        (br_if $done (i32.ge_u (local.get $i) (local.get $n16)))
        (local.set $s0 (f32x4.add (local.get $s0) (v128.load (local.get $p))))
        (local.set $s1 (f32x4.add (local.get $s1) (v128.load offset=16 (local.get $p))))
        (local.set $s2 (f32x4.add (local.get $s2) (v128.load offset=32 (local.get $p))))
        (local.set $s3 (f32x4.add (local.get $s3) (v128.load offset=48 (local.get $p))))
        (local.set $p (i32.add (local.get $p) (i32.const 64)))
        (local.set $i (i32.add (local.get $i) (i32.const 16)))
        (br $each)))
    (call $hsum (f32x4.add (f32x4.add (local.get $s0) (local.get $s1)) (f32x4.add (local.get $s2) (local.get $s3)))))

  ;; copies n bytes from src to dst (memory.copy: the bench's copy-bandwidth probe, and cache moves)
  (func (export "copy") (param $dst i32) (param $src i32) (param $n i32)
    (memory.copy (local.get $dst) (local.get $src) (local.get $n))))
