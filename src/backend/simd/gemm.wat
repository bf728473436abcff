;; Matrix products on the wasm heap of tfjs-backend-wasm (whose memory it imports) for weights that must stay in
;; one copy, in their own layout: no operator keeps them packed (XNNPACK's does, see weight-matmul.ts).
;;   gemm(a, b, c, M, K, N, bt, acc, scratch):  C (M × N) (+)= A (M × K) · B    B (K × N) row-major  (bt = 0)
;;                                               C (M × N) (+)= A (M × K) · Bᵀ   B (N × K) row-major  (bt = 1)
;; adding to C when acc ≠ 0.
;;   gemm_causal(a, b, c, M, K, N, bt, acc, scratch, mode, T, off): the same, for attention's products, whose causal
;; mask zeroes a triangle (row r of C is query t = r mod T, seeing keys j ≤ t + off), skipping the work it makes
;; useless, per strip of 4 rows:
;;   mode 1: only C[r][j ≤ t + off] is needed (q·kᵀ, dy·vᵀ): panels past a strip's last query are not computed, and
;;           those entries of C are left as they were;
;;   mode 2: A[r][k] = 0 for k > t + off (p·v, ds·k): the products stop at a strip's last query;
;;   mode 3: A[r][k] = 0 for k < r − off, rows being keys (pᵀ·dy, dsᵀ·q, one query block of T at a time): the
;;           products start at a strip's first key.
;; A strip with nothing to compute in the first K block writes zeros (unless acc).
;; Every argument is a byte offset or a count; floats are f32, all matrices row-major and dense.
;; Blocking (GotoBLAS's): K in blocks of KC = 256, rows in blocks of MC = 256, N in panels of 8 columns. `scratch`
;; (GEMM_SCRATCH_BYTES in instance.ts, owned by the caller) holds three areas:
;;   [0, 8 KiB)             one (KC × 8) panel of B, k-major, zero-padded past N: copied from B's rows (bt = 0) or,
;;                          transposed in 4 × 4 tiles, from B's columns (bt = 1);
;;   [8 KiB, 264 KiB)       the (MC × KC) block of A in strips of 4 rows, k-major (4 floats per k), zero rows past
;;                          M: packed once per block and read contiguously by every panel, whatever A's row
;;                          stride (a power-of-two stride, such as a 16,384-wide vocabulary chunk, would otherwise
;;                          put a strip's rows in the same cache sets);
;;   [264 KiB, + 128 B)     an edge block of C (fewer than 4 rows or 8 columns) on its way out to C.
;; The micro-kernel keeps a 4 × 8 block of C in eight v128 accumulators and per k loads the panel row (two v128) and
;; splats the strip's four floats: fourteen live v128, within the fifteen V8 allocates on x64. The loop does one k
;; per pass on purpose: unrolled, V8's scheduler hoists the loads of every k above the multiply-adds and spills
;; them and the accumulators to the stack (at about half the speed: docs/performance.md, "Matmul"); for the same
;; reason an edge block leaves through scratch, so that no accumulator is live across a call (a whole block is
;; stored, or added, straight from the accumulators). The multiply-add is
;; relaxed SIMD's f32x4.relaxed_madd (one fused instruction where the CPU has FMA); scripts/build-wasm.mjs also
;; assembles this file with each relaxed_madd written as f32x4.mul + f32x4.add, for WebAssembly without relaxed
;; SIMD, and instance.ts takes the first the runtime validates. The first K block writes C (unless acc), later ones
;; add to it. Edge strips compute on the zero rows and store only the rows of C that exist; columns past N likewise.
;; Built into gemm-wasm.ts by scripts/build-wasm.mjs.
(module
  (import "env" "memory" (memory 0))

  ;; panel (kc × 8) ← B[k0 … k0+kc)[n0 … n0+nr), rows of B K-major (bt = 0): ldb = N floats
  (func $pack_rows (param $b i32) (param $ldb i32) (param $k0 i32) (param $kc i32) (param $n0 i32) (param $nr i32)
                   (param $p i32)
    (local $src i32) (local $k i32) (local $j i32) (local $rowBytes i32)
    (local.set $rowBytes (i32.shl (local.get $ldb) (i32.const 2)))
    (local.set $src (i32.add (local.get $b)
      (i32.shl (i32.add (i32.mul (local.get $k0) (local.get $ldb)) (local.get $n0)) (i32.const 2))))
    (if (i32.eq (local.get $nr) (i32.const 8))
      (then
        (block $done
          (loop $rows
            (br_if $done (i32.ge_u (local.get $k) (local.get $kc)))
            (v128.store (local.get $p) (v128.load (local.get $src)))
            (v128.store offset=16 (local.get $p) (v128.load offset=16 (local.get $src)))
            (local.set $p (i32.add (local.get $p) (i32.const 32)))
            (local.set $src (i32.add (local.get $src) (local.get $rowBytes)))
            (local.set $k (i32.add (local.get $k) (i32.const 1)))
            (br $rows))))
      (else
        (block $done
          (loop $rows
            (br_if $done (i32.ge_u (local.get $k) (local.get $kc)))
            (v128.store (local.get $p) (v128.const i32x4 0 0 0 0))
            (v128.store offset=16 (local.get $p) (v128.const i32x4 0 0 0 0))
            (local.set $j (i32.const 0))
            (block $cols_done
              (loop $cols
                (br_if $cols_done (i32.ge_u (local.get $j) (local.get $nr)))
                (f32.store
                  (i32.add (local.get $p) (i32.shl (local.get $j) (i32.const 2)))
                  (f32.load (i32.add (local.get $src) (i32.shl (local.get $j) (i32.const 2)))))
                (local.set $j (i32.add (local.get $j) (i32.const 1)))
                (br $cols)))
            (local.set $p (i32.add (local.get $p) (i32.const 32)))
            (local.set $src (i32.add (local.get $src) (local.get $rowBytes)))
            (local.set $k (i32.add (local.get $k) (i32.const 1)))
            (br $rows))))))

  ;; panel (kc × 8) ← B[n0 … n0+nr)[k0 … k0+kc)ᵀ, B (N × K) row-major (bt = 1): ldb = K floats
  (func $pack_cols (param $b i32) (param $ldb i32) (param $k0 i32) (param $kc i32) (param $n0 i32) (param $nr i32)
                   (param $p i32)
    (local $rowBytes i32) (local $src i32) (local $k i32) (local $kc4 i32) (local $j i32) (local $half i32)
    (local $r0 i32) (local $dst i32)
    (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128)
    (local $t0 v128) (local $t1 v128) (local $t2 v128) (local $t3 v128)
    (local.set $rowBytes (i32.shl (local.get $ldb) (i32.const 2)))
    (local.set $src (i32.add (local.get $b)
      (i32.shl (i32.add (i32.mul (local.get $n0) (local.get $ldb)) (local.get $k0)) (i32.const 2))))
    (if (i32.eq (local.get $nr) (i32.const 8))
      (then
        (local.set $kc4 (i32.and (local.get $kc) (i32.const -4)))
        ;; two halves of 4 rows of B (panel columns 0–3, 4–7), 4 × 4 tiles along k
        (loop $halves
          (local.set $r0 (i32.add (local.get $src) (i32.mul (local.get $half) (i32.shl (local.get $rowBytes) (i32.const 2)))))
          (local.set $k (i32.const 0))
          (block $tiles_done
            (loop $tiles
              (br_if $tiles_done (i32.ge_u (local.get $k) (local.get $kc4)))
              (local.set $a0 (v128.load (i32.add (local.get $r0) (i32.shl (local.get $k) (i32.const 2)))))
              (local.set $a1 (v128.load (i32.add (i32.add (local.get $r0) (local.get $rowBytes))
                (i32.shl (local.get $k) (i32.const 2)))))
              (local.set $a2 (v128.load (i32.add (i32.add (local.get $r0) (i32.shl (local.get $rowBytes) (i32.const 1)))
                (i32.shl (local.get $k) (i32.const 2)))))
              (local.set $a3 (v128.load (i32.add (i32.add (local.get $r0) (i32.mul (local.get $rowBytes) (i32.const 3)))
                (i32.shl (local.get $k) (i32.const 2)))))
              ;; t0 = a0₀ a1₀ a0₁ a1₁, t1 = a0₂ a1₂ a0₃ a1₃, t2 = a2₀ a3₀ a2₁ a3₁, t3 = a2₂ a3₂ a2₃ a3₃
              (local.set $t0 (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $a0) (local.get $a1)))
              (local.set $t1 (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $a0) (local.get $a1)))
              (local.set $t2 (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $a2) (local.get $a3)))
              (local.set $t3 (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $a2) (local.get $a3)))
              ;; panel row k+i, columns 4·half … 4·half+3 = (a0ᵢ a1ᵢ a2ᵢ a3ᵢ)
              (local.set $dst (i32.add (local.get $p)
                (i32.add (i32.shl (local.get $k) (i32.const 5)) (i32.shl (local.get $half) (i32.const 4)))))
              (v128.store (local.get $dst)
                (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $t0) (local.get $t2)))
              (v128.store offset=32 (local.get $dst)
                (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $t0) (local.get $t2)))
              (v128.store offset=64 (local.get $dst)
                (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $t1) (local.get $t3)))
              (v128.store offset=96 (local.get $dst)
                (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $t1) (local.get $t3)))
              (local.set $k (i32.add (local.get $k) (i32.const 4)))
              (br $tiles)))
          (local.set $half (i32.add (local.get $half) (i32.const 1)))
          (br_if $halves (i32.lt_u (local.get $half) (i32.const 2))))
        ;; the last kc mod 4 rows of the panel, one element at a time
        (local.set $k (local.get $kc4)))
      (else (local.set $k (i32.const 0))))
    (block $rows_done
      (loop $rows
        (br_if $rows_done (i32.ge_u (local.get $k) (local.get $kc)))
        (local.set $dst (i32.add (local.get $p) (i32.shl (local.get $k) (i32.const 5))))
        (v128.store (local.get $dst) (v128.const i32x4 0 0 0 0))
        (v128.store offset=16 (local.get $dst) (v128.const i32x4 0 0 0 0))
        (local.set $j (i32.const 0))
        (block $cols_done
          (loop $cols
            (br_if $cols_done (i32.ge_u (local.get $j) (local.get $nr)))
            (f32.store
              (i32.add (local.get $dst) (i32.shl (local.get $j) (i32.const 2)))
              (f32.load (i32.add (local.get $src)
                (i32.add (i32.mul (local.get $j) (local.get $rowBytes)) (i32.shl (local.get $k) (i32.const 2))))))
            (local.set $j (i32.add (local.get $j) (i32.const 1)))
            (br $cols)))
        (local.set $k (i32.add (local.get $k) (i32.const 1)))
        (br $rows))))

  ;; strips of 4 rows of A[m0 … m1)[k0 … k0+kc), lda bytes, packed k-major: strip s, k → 4 floats at
  ;; dst + (s·kc + k)·16; rows past m1 are zeros. A strip of four rows goes in 4 × 4 tiles (four loads, a transpose
  ;; in shuffles, four stores), its last kc mod 4 columns and a partial strip one float at a time.
  (func $pack_a (param $a i32) (param $lda i32) (param $m0 i32) (param $m1 i32) (param $k0 i32) (param $kc i32)
                (param $dst i32)
    (local $m i32) (local $r i32) (local $k i32) (local $k1 i32) (local $src i32) (local $d i32) (local $kc4 i32)
    (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128)
    (local $t0 v128) (local $t1 v128) (local $t2 v128) (local $t3 v128)
    (local.set $kc4 (i32.and (local.get $kc) (i32.const -4)))
    (local.set $m (local.get $m0))
    (block $strips_done
      (loop $strips
        (br_if $strips_done (i32.ge_u (local.get $m) (local.get $m1)))
        (local.set $k1 (i32.const 0)) ;; where the one-float-at-a-time copy starts
        (if (i32.le_u (i32.add (local.get $m) (i32.const 4)) (local.get $m1))
          (then
            (local.set $src (i32.add (local.get $a) (i32.add
              (i32.mul (local.get $m) (local.get $lda)) (i32.shl (local.get $k0) (i32.const 2)))))
            (local.set $d (local.get $dst))
            (local.set $k (i32.const 0))
            (block $tiles_done
              (loop $tiles
                (br_if $tiles_done (i32.ge_u (local.get $k) (local.get $kc4)))
                (local.set $a0 (v128.load (local.get $src)))
                (local.set $a1 (v128.load (i32.add (local.get $src) (local.get $lda))))
                (local.set $a2 (v128.load (i32.add (local.get $src) (i32.shl (local.get $lda) (i32.const 1)))))
                (local.set $a3 (v128.load (i32.add (local.get $src) (i32.mul (local.get $lda) (i32.const 3)))))
                ;; t0 = a0₀ a1₀ a0₁ a1₁, t1 = a0₂ a1₂ a0₃ a1₃, t2 = a2₀ a3₀ a2₁ a3₁, t3 = a2₂ a3₂ a2₃ a3₃
                (local.set $t0 (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $a0) (local.get $a1)))
                (local.set $t1 (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $a0) (local.get $a1)))
                (local.set $t2 (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $a2) (local.get $a3)))
                (local.set $t3 (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $a2) (local.get $a3)))
                ;; k + i → (a0ᵢ a1ᵢ a2ᵢ a3ᵢ)
                (v128.store offset=0 (local.get $d)
                  (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $t0) (local.get $t2)))
                (v128.store offset=16 (local.get $d)
                  (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $t0) (local.get $t2)))
                (v128.store offset=32 (local.get $d)
                  (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $t1) (local.get $t3)))
                (v128.store offset=48 (local.get $d)
                  (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $t1) (local.get $t3)))
                (local.set $src (i32.add (local.get $src) (i32.const 16)))
                (local.set $d (i32.add (local.get $d) (i32.const 64)))
                (local.set $k (i32.add (local.get $k) (i32.const 4)))
                (br $tiles)))
            (local.set $k1 (local.get $kc4))))
        (if (i32.lt_u (local.get $k1) (local.get $kc))
          (then
            (local.set $r (i32.const 0))
            (loop $rows
              (local.set $d (i32.add (local.get $dst)
                (i32.add (i32.shl (local.get $k1) (i32.const 4)) (i32.shl (local.get $r) (i32.const 2)))))
              (local.set $k (local.get $k1))
              (if (i32.lt_u (i32.add (local.get $m) (local.get $r)) (local.get $m1))
                (then
                  (local.set $src (i32.add (local.get $a) (i32.add
                    (i32.mul (i32.add (local.get $m) (local.get $r)) (local.get $lda))
                    (i32.shl (i32.add (local.get $k0) (local.get $k1)) (i32.const 2)))))
                  (loop $ks
                    (f32.store (local.get $d) (f32.load (local.get $src)))
                    (local.set $src (i32.add (local.get $src) (i32.const 4)))
                    (local.set $d (i32.add (local.get $d) (i32.const 16)))
                    (local.set $k (i32.add (local.get $k) (i32.const 1)))
                    (br_if $ks (i32.lt_u (local.get $k) (local.get $kc)))))
                (else
                  (loop $zs
                    (f32.store (local.get $d) (f32.const 0))
                    (local.set $d (i32.add (local.get $d) (i32.const 16)))
                    (local.set $k (i32.add (local.get $k) (i32.const 1)))
                    (br_if $zs (i32.lt_u (local.get $k) (local.get $kc))))))
              (local.set $r (i32.add (local.get $r) (i32.const 1)))
              (br_if $rows (i32.lt_u (local.get $r) (i32.const 4))))))
        (local.set $dst (i32.add (local.get $dst) (i32.mul (local.get $kc) (i32.const 16))))
        (local.set $m (i32.add (local.get $m) (i32.const 4)))
        (br $strips))))

  ;; the 4 × 8 block at `tmp` (row-major, 32 bytes a row) written (or added, when $add) to rows [0, mr) and columns
  ;; [0, nr) of C; ldc in bytes
  (func $store_block (param $tmp i32) (param $c i32) (param $ldc i32) (param $mr i32) (param $nr i32) (param $add i32)
    (local $r i32) (local $j i32) (local $at i32)
    (loop $rows
      (if (i32.eq (local.get $nr) (i32.const 8))
        (then
          (if (local.get $add)
            (then
              (v128.store (local.get $c) (f32x4.add (v128.load (local.get $tmp)) (v128.load (local.get $c))))
              (v128.store offset=16 (local.get $c)
                (f32x4.add (v128.load offset=16 (local.get $tmp)) (v128.load offset=16 (local.get $c)))))
            (else
              (v128.store (local.get $c) (v128.load (local.get $tmp)))
              (v128.store offset=16 (local.get $c) (v128.load offset=16 (local.get $tmp))))))
        (else
          (local.set $j (i32.const 0))
          (loop $cols
            (local.set $at (i32.add (local.get $c) (i32.shl (local.get $j) (i32.const 2))))
            (f32.store (local.get $at)
              (f32.add
                (f32.load (i32.add (local.get $tmp) (i32.shl (local.get $j) (i32.const 2))))
                (if (result f32) (local.get $add)
                  (then (f32.load (local.get $at)))
                  (else (f32.const 0)))))
            (local.set $j (i32.add (local.get $j) (i32.const 1)))
            (br_if $cols (i32.lt_u (local.get $j) (local.get $nr))))))
      (local.set $tmp (i32.add (local.get $tmp) (i32.const 32)))
      (local.set $c (i32.add (local.get $c) (local.get $ldc)))
      (local.set $r (i32.add (local.get $r) (i32.const 1)))
      (br_if $rows (i32.lt_u (local.get $r) (local.get $mr)))))

  ;; C[mr ≤ 4 rows][0 … nr) = 0
  (func $zero_block (param $tmp i32) (param $c i32) (param $ldc i32) (param $mr i32) (param $nr i32)
    (v128.store offset=0 (local.get $tmp) (v128.const i32x4 0 0 0 0))
    (v128.store offset=16 (local.get $tmp) (v128.const i32x4 0 0 0 0))
    (v128.store offset=32 (local.get $tmp) (v128.const i32x4 0 0 0 0))
    (v128.store offset=48 (local.get $tmp) (v128.const i32x4 0 0 0 0))
    (v128.store offset=64 (local.get $tmp) (v128.const i32x4 0 0 0 0))
    (v128.store offset=80 (local.get $tmp) (v128.const i32x4 0 0 0 0))
    (v128.store offset=96 (local.get $tmp) (v128.const i32x4 0 0 0 0))
    (v128.store offset=112 (local.get $tmp) (v128.const i32x4 0 0 0 0))
    (call $store_block (local.get $tmp) (local.get $c) (local.get $ldc) (local.get $mr) (local.get $nr) (i32.const 0)))

  ;; C[mr ≤ 4 rows][0 … nr) (+)= packed strip (kc × 4) · panel (kc × 8), kc ≥ 1; ldc in bytes
  (func $kernel (param $a i32) (param $p i32) (param $kc i32) (param $c i32) (param $ldc i32) (param $mr i32)
                (param $nr i32) (param $add i32) (param $tmp i32)
    (local $end i32) (local $c1 i32) (local $c2 i32) (local $c3 i32) (local $b0 v128) (local $b1 v128) (local $x v128)
    (local $c00 v128) (local $c01 v128) (local $c10 v128) (local $c11 v128)
    (local $c20 v128) (local $c21 v128) (local $c30 v128) (local $c31 v128)
    (local.set $end (i32.add (local.get $p) (i32.shl (local.get $kc) (i32.const 5))))
    (loop $k
      (local.set $b0 (v128.load offset=0 (local.get $p)))
      (local.set $b1 (v128.load offset=16 (local.get $p)))
      (local.set $x (v128.load32_splat offset=0 (local.get $a)))
      (local.set $c00 (f32x4.relaxed_madd (local.get $x) (local.get $b0) (local.get $c00)))
      (local.set $c01 (f32x4.relaxed_madd (local.get $x) (local.get $b1) (local.get $c01)))
      (local.set $x (v128.load32_splat offset=4 (local.get $a)))
      (local.set $c10 (f32x4.relaxed_madd (local.get $x) (local.get $b0) (local.get $c10)))
      (local.set $c11 (f32x4.relaxed_madd (local.get $x) (local.get $b1) (local.get $c11)))
      (local.set $x (v128.load32_splat offset=8 (local.get $a)))
      (local.set $c20 (f32x4.relaxed_madd (local.get $x) (local.get $b0) (local.get $c20)))
      (local.set $c21 (f32x4.relaxed_madd (local.get $x) (local.get $b1) (local.get $c21)))
      (local.set $x (v128.load32_splat offset=12 (local.get $a)))
      (local.set $c30 (f32x4.relaxed_madd (local.get $x) (local.get $b0) (local.get $c30)))
      (local.set $c31 (f32x4.relaxed_madd (local.get $x) (local.get $b1) (local.get $c31)))
      (local.set $a (i32.add (local.get $a) (i32.const 16)))
      (local.set $p (i32.add (local.get $p) (i32.const 32)))
      (br_if $k (i32.lt_u (local.get $p) (local.get $end))))
    ;; a whole 4 × 8 block goes straight to C
    (if (i32.and (i32.eq (local.get $mr) (i32.const 4)) (i32.eq (local.get $nr) (i32.const 8)))
      (then
        (local.set $c1 (i32.add (local.get $c) (local.get $ldc)))
        (local.set $c2 (i32.add (local.get $c1) (local.get $ldc)))
        (local.set $c3 (i32.add (local.get $c2) (local.get $ldc)))
        (if (local.get $add)
          (then
            (local.set $c00 (f32x4.add (local.get $c00) (v128.load offset=0 (local.get $c))))
            (local.set $c01 (f32x4.add (local.get $c01) (v128.load offset=16 (local.get $c))))
            (local.set $c10 (f32x4.add (local.get $c10) (v128.load offset=0 (local.get $c1))))
            (local.set $c11 (f32x4.add (local.get $c11) (v128.load offset=16 (local.get $c1))))
            (local.set $c20 (f32x4.add (local.get $c20) (v128.load offset=0 (local.get $c2))))
            (local.set $c21 (f32x4.add (local.get $c21) (v128.load offset=16 (local.get $c2))))
            (local.set $c30 (f32x4.add (local.get $c30) (v128.load offset=0 (local.get $c3))))
            (local.set $c31 (f32x4.add (local.get $c31) (v128.load offset=16 (local.get $c3))))))
        (v128.store offset=0 (local.get $c) (local.get $c00))
        (v128.store offset=16 (local.get $c) (local.get $c01))
        (v128.store offset=0 (local.get $c1) (local.get $c10))
        (v128.store offset=16 (local.get $c1) (local.get $c11))
        (v128.store offset=0 (local.get $c2) (local.get $c20))
        (v128.store offset=16 (local.get $c2) (local.get $c21))
        (v128.store offset=0 (local.get $c3) (local.get $c30))
        (v128.store offset=16 (local.get $c3) (local.get $c31))
        (return)))
    ;; an edge block through `tmp`: no accumulator outlives the loop in a register across a call (V8 would spill it
    ;; in the loop)
    (v128.store offset=0 (local.get $tmp) (local.get $c00))
    (v128.store offset=16 (local.get $tmp) (local.get $c01))
    (v128.store offset=32 (local.get $tmp) (local.get $c10))
    (v128.store offset=48 (local.get $tmp) (local.get $c11))
    (v128.store offset=64 (local.get $tmp) (local.get $c20))
    (v128.store offset=80 (local.get $tmp) (local.get $c21))
    (v128.store offset=96 (local.get $tmp) (local.get $c30))
    (v128.store offset=112 (local.get $tmp) (local.get $c31))
    (call $store_block (local.get $tmp) (local.get $c) (local.get $ldc) (local.get $mr) (local.get $nr) (local.get $add)))

  (func (export "gemm") (param $a i32) (param $b i32) (param $c i32) (param $M i32) (param $K i32) (param $N i32)
                        (param $bt i32) (param $acc i32) (param $scratch i32)
    (call $gemm (local.get $a) (local.get $b) (local.get $c) (local.get $M) (local.get $K) (local.get $N)
      (local.get $bt) (local.get $acc) (local.get $scratch) (i32.const 0) (i32.const 1) (i32.const 0)))

  (func (export "gemm_causal") (param $a i32) (param $b i32) (param $c i32) (param $M i32) (param $K i32) (param $N i32)
                               (param $bt i32) (param $acc i32) (param $scratch i32) (param $mode i32) (param $T i32)
                               (param $off i32)
    (call $gemm (local.get $a) (local.get $b) (local.get $c) (local.get $M) (local.get $K) (local.get $N)
      (local.get $bt) (local.get $acc) (local.get $scratch) (local.get $mode) (local.get $T) (local.get $off)))

  (func $gemm (param $a i32) (param $b i32) (param $c i32) (param $M i32) (param $K i32) (param $N i32)
              (param $bt i32) (param $acc i32) (param $scratch i32) (param $mode i32) (param $T i32) (param $off i32)
    (local $k0 i32) (local $kc i32) (local $n0 i32) (local $nr i32) (local $m i32) (local $m0 i32) (local $m1 i32)
    (local $lda i32) (local $ldc i32) (local $tmp i32) (local $add i32) (local $panel i32) (local $ablock i32)
    (local $ap i32) (local $crow i32) (local $mr i32) (local $ks i32) (local $ke i32) (local $tq i32)
    (local.set $lda (i32.shl (local.get $K) (i32.const 2)))
    (local.set $ldc (i32.shl (local.get $N) (i32.const 2)))
    (local.set $panel (local.get $scratch))
    (local.set $ablock (i32.add (local.get $scratch) (i32.const 8192)))
    (local.set $tmp (i32.add (local.get $ablock) (i32.const 262144)))
    (block $kdone
      (loop $kblocks
        (br_if $kdone (i32.ge_u (local.get $k0) (local.get $K)))
        (local.set $kc (i32.sub (local.get $K) (local.get $k0)))
        (if (i32.gt_u (local.get $kc) (i32.const 256)) (then (local.set $kc (i32.const 256))))
        (local.set $add (i32.or (local.get $acc) (i32.ne (local.get $k0) (i32.const 0))))
        (local.set $m0 (i32.const 0))
        (block $mbdone
          (loop $mblocks
            (br_if $mbdone (i32.ge_u (local.get $m0) (local.get $M)))
            (local.set $m1 (i32.add (local.get $m0) (i32.const 256)))
            (if (i32.gt_u (local.get $m1) (local.get $M)) (then (local.set $m1 (local.get $M))))
            (call $pack_a (local.get $a) (local.get $lda) (local.get $m0) (local.get $m1) (local.get $k0) (local.get $kc)
              (local.get $ablock))
            (local.set $n0 (i32.const 0))
            (block $ndone
              (loop $panels
                (br_if $ndone (i32.ge_u (local.get $n0) (local.get $N)))
                (local.set $nr (i32.sub (local.get $N) (local.get $n0)))
                (if (i32.gt_u (local.get $nr) (i32.const 8)) (then (local.set $nr (i32.const 8))))
                (if (local.get $bt)
                  (then (call $pack_cols (local.get $b) (local.get $K) (local.get $k0) (local.get $kc) (local.get $n0)
                          (local.get $nr) (local.get $panel)))
                  (else (call $pack_rows (local.get $b) (local.get $N) (local.get $k0) (local.get $kc) (local.get $n0)
                          (local.get $nr) (local.get $panel))))
                (local.set $m (local.get $m0))
                (local.set $ap (local.get $ablock))
                (block $mdone
                  (loop $strips
                    (br_if $mdone (i32.ge_u (local.get $m) (local.get $m1)))
                    (local.set $mr (i32.sub (local.get $m1) (local.get $m)))
                    (if (i32.gt_u (local.get $mr) (i32.const 4)) (then (local.set $mr (i32.const 4))))
                    (local.set $crow (i32.add (local.get $c)
                      (i32.add (i32.mul (local.get $m) (local.get $ldc)) (i32.shl (local.get $n0) (i32.const 2)))))
                    ;; the strip's k range [ks, ke) in this block; its last query tq (mode 1, 2)
                    (local.set $ks (local.get $k0))
                    (local.set $ke (i32.add (local.get $k0) (local.get $kc)))
                    (if (local.get $mode)
                      (then
                        (local.set $tq (i32.rem_u (local.get $m) (local.get $T)))
                        (local.set $tq (select (i32.sub (local.get $T) (i32.const 1))
                          (i32.add (local.get $tq) (i32.sub (local.get $mr) (i32.const 1)))
                          (i32.ge_u (i32.add (local.get $tq) (local.get $mr)) (local.get $T))))
                        (local.set $tq (i32.add (local.get $tq) (local.get $off))) ;; the strip's last key seen
                        (if (i32.eq (local.get $mode) (i32.const 1))
                          (then (if (i32.gt_s (local.get $n0) (local.get $tq)) (then (local.set $ke (local.get $ks))))))
                        (if (i32.eq (local.get $mode) (i32.const 2))
                          (then (if (i32.lt_s (i32.add (local.get $tq) (i32.const 1)) (local.get $ke))
                                  (then (local.set $ke (i32.add (local.get $tq) (i32.const 1)))))))
                        (if (i32.eq (local.get $mode) (i32.const 3))
                          (then (if (i32.gt_s (i32.sub (local.get $m) (local.get $off)) (local.get $ks))
                                  (then (local.set $ks (i32.sub (local.get $m) (local.get $off)))))))))
                    (if (i32.lt_s (local.get $ks) (local.get $ke))
                      (then
                        (call $kernel
                          (i32.add (local.get $ap) (i32.shl (i32.sub (local.get $ks) (local.get $k0)) (i32.const 4)))
                          (i32.add (local.get $panel) (i32.shl (i32.sub (local.get $ks) (local.get $k0)) (i32.const 5)))
                          (i32.sub (local.get $ke) (local.get $ks)) (local.get $crow) (local.get $ldc)
                          (local.get $mr) (local.get $nr) (local.get $add) (local.get $tmp)))
                      (else
                        ;; nothing to add here; a product's first block writes its zeros (not mode 1's skipped panels)
                        (if (i32.and (i32.eqz (local.get $add)) (i32.ne (local.get $mode) (i32.const 1)))
                          (then (call $zero_block (local.get $tmp) (local.get $crow) (local.get $ldc) (local.get $mr)
                                  (local.get $nr))))))
                    (local.set $ap (i32.add (local.get $ap) (i32.mul (local.get $kc) (i32.const 16))))
                    (local.set $m (i32.add (local.get $m) (i32.const 4)))
                    (br $strips)))
                (local.set $n0 (i32.add (local.get $n0) (i32.const 8)))
                (br $panels)))
            (local.set $m0 (local.get $m1))
            (br $mblocks)))
        (local.set $k0 (i32.add (local.get $k0) (local.get $kc)))
        (br $kblocks)))))
