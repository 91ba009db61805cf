//! ONNX `MatMul` and `Einsum` on candle tensors. MatMul follows NumPy's rules (vectors
//! promoted, batch axes broadcast, any rank) where candle's `matmul` takes at most 4-D
//! operands of equal batch shape. Einsum runs as transposes, sums and one batched matrix product, so
//! that candle's autograd differentiates it exactly. Exporters emit it for attention written
//! with `torch.einsum` (MaxViT's `"B G H I D, B G H J D -> B G H I J"`).
//!
//! Covered: one or two operands, implicit or explicit output, `...` for leading axes, and
//! any mix of batch, contracted, kept and summed-out labels. A label repeated within one
//! operand (a diagonal) is refused with the equation in the message.
use candle_core::Tensor;

type R<T> = Result<T, String>;

fn c<T>(r: candle_core::Result<T>) -> R<T> {
    r.map_err(|e| e.to_string())
}

/// An equation with `...` expanded and spaces removed: one label list per operand and the
/// output's.
#[derive(Debug, PartialEq)]
struct Equation {
    inputs: Vec<Vec<char>>,
    output: Vec<char>,
}

/// Labels `...` stands for: characters no equation uses.
fn ellipsis_labels(n: usize) -> Vec<char> {
    ('\u{100}'..).take(n).collect()
}

fn parse(equation: &str, ranks: &[usize]) -> R<Equation> {
    let eq: String = equation.chars().filter(|c| !c.is_whitespace()).collect();
    let (lhs, rhs) = match eq.split_once("->") {
        Some((l, r)) => (l, Some(r)),
        None => (eq.as_str(), None),
    };
    let terms: Vec<&str> = lhs.split(',').collect();
    if terms
        .iter()
        .chain(&rhs)
        .any(|t| t.matches("...").count() > 1)
    {
        return Err(format!(
            "Einsum `{equation}`: `...` appears twice in one term"
        ));
    }
    if terms.len() != ranks.len() {
        return Err(format!(
            "Einsum `{equation}` names {} operands, the node has {}",
            terms.len(),
            ranks.len()
        ));
    }
    // How many axes `...` spans in each operand; broadcast axes align to the right.
    let mut spans = Vec::new();
    for (term, &rank) in terms.iter().zip(ranks) {
        let named = term.replace("...", "");
        if named.chars().any(|c| !c.is_ascii_alphabetic()) {
            return Err(format!("Einsum `{equation}`: labels are letters"));
        }
        let named = named.chars().count();
        if term.contains("...") {
            spans.push(rank.checked_sub(named).ok_or_else(|| {
                format!("Einsum `{equation}`: `{term}` has more labels than rank {rank}")
            })?);
        } else if named != rank {
            return Err(format!(
                "Einsum `{equation}`: `{term}` labels {named} axes of a rank-{rank} operand"
            ));
        } else {
            spans.push(0);
        }
    }
    let ellipsis_rank = spans.iter().copied().max().unwrap_or(0);
    let all = ellipsis_labels(ellipsis_rank);
    let mut inputs = Vec::new();
    for (term, &spanned) in terms.iter().zip(&spans) {
        let mut labels = Vec::new();
        match term.split_once("...") {
            Some((before, after)) => {
                labels.extend(before.chars());
                labels.extend(&all[all.len() - spanned..]);
                labels.extend(after.chars());
            }
            None => labels.extend(term.chars()),
        }
        for (i, l) in labels.iter().enumerate() {
            if labels[..i].contains(l) {
                return Err(format!(
                    "Einsum `{equation}`: label `{l}` repeats within an operand (diagonals are not supported)"
                ));
            }
        }
        inputs.push(labels);
    }
    let output = match rhs {
        Some(r) => {
            let mut out = Vec::new();
            if let Some((before, after)) = r.split_once("...") {
                out.extend(before.chars());
                out.extend(&all);
                out.extend(after.chars());
            } else {
                out.extend(r.chars());
            }
            out
        }
        None => {
            // Implicit output: the ellipsis, then labels used once, alphabetically.
            let mut once: Vec<char> = inputs
                .iter()
                .flatten()
                .filter(|l| l.is_ascii_alphabetic())
                .filter(|l| inputs.iter().flatten().filter(|m| m == l).count() == 1)
                .copied()
                .collect();
            once.sort_unstable();
            let mut out = all.clone();
            out.extend(once);
            out
        }
    };
    for (i, l) in output.iter().enumerate() {
        if output[..i].contains(l) {
            return Err(format!("Einsum `{equation}`: output label `{l}` repeats"));
        }
        if !inputs.iter().any(|i| i.contains(l)) {
            return Err(format!(
                "Einsum `{equation}`: output label `{l}` is in no operand"
            ));
        }
    }
    Ok(Equation { inputs, output })
}

/// Sums out the axes of `x` whose labels `keep` rejects; returns the rest and their labels.
fn sum_out(x: &Tensor, labels: &[char], keep: impl Fn(char) -> bool) -> R<(Tensor, Vec<char>)> {
    let mut x = x.clone();
    let mut kept = Vec::new();
    for (i, &l) in labels.iter().enumerate().rev() {
        if keep(l) {
            kept.push(l);
        } else {
            x = c(x.sum(i))?;
        }
    }
    kept.reverse();
    Ok((x, kept))
}

/// `x` with its axes in the order of `to` (a permutation of `from`).
fn permute(x: &Tensor, from: &[char], to: &[char]) -> R<Tensor> {
    let perm: Vec<usize> = to
        .iter()
        .map(|l| from.iter().position(|m| m == l).unwrap_or_default())
        .collect();
    if perm.iter().enumerate().all(|(i, &p)| i == p) {
        return Ok(x.clone());
    }
    c(x.permute(perm))
}

fn size_of(x: &Tensor, labels: &[char], l: char) -> usize {
    labels
        .iter()
        .position(|&m| m == l)
        .map_or(1, |i| x.dims()[i])
}

/// NumPy's `matmul`: a 1-D operand is a row (left) or column (right) vector that the result
/// drops again; leading axes broadcast. Runs as one 2-D or 3-D candle matmul.
pub fn matmul(a: &Tensor, b: &Tensor) -> R<Tensor> {
    match (a.rank(), b.rank()) {
        (0, _) | (_, 0) => return Err("MatMul of a scalar".into()),
        (1, _) => return c(matmul(&c(a.unsqueeze(0))?, b)?.squeeze(b.rank().max(2) - 2)),
        (_, 1) => {
            let y = matmul(a, &c(b.unsqueeze(1))?)?;
            let last = y.rank() - 1;
            return c(y.squeeze(last));
        }
        _ => {}
    }
    let (ra, rb) = (a.rank(), b.rank());
    let (m, ka) = (a.dims()[ra - 2], a.dims()[ra - 1]);
    let (kb, n) = (b.dims()[rb - 2], b.dims()[rb - 1]);
    if ka != kb {
        return Err(format!(
            "MatMul of {:?} and {:?}: inner sizes {ka} and {kb} differ",
            a.dims(),
            b.dims()
        ));
    }
    if rb == 2 {
        // Every row of every batch times one matrix: a single 2-D product.
        let rows = a.elem_count() / ka;
        let y = c(a
            .contiguous()
            .and_then(|a| a.reshape((rows, ka)))
            .and_then(|a| a.matmul(b)))?;
        let mut dims = a.dims().to_vec();
        dims[ra - 1] = n;
        return c(y.reshape(dims));
    }
    let batch = super::host::broadcast(&a.dims()[..ra - 2], &b.dims()[..rb - 2])?;
    let nb: usize = batch.iter().product();
    let grow = |t: &Tensor, r: usize, c2: usize| -> R<Tensor> {
        let mut dims = batch.clone();
        dims.extend([r, c2]);
        c(t.broadcast_as(dims)
            .and_then(|t| t.contiguous())
            .and_then(|t| t.reshape((nb, r, c2))))
    };
    let y = c(grow(a, m, ka)?.matmul(&grow(b, kb, n)?))?;
    let mut dims = batch;
    dims.extend([m, n]);
    c(y.reshape(dims))
}

/// Evaluates `equation` on one or two operands.
pub fn einsum(equation: &str, operands: &[Tensor]) -> R<Tensor> {
    let ranks: Vec<usize> = operands.iter().map(Tensor::rank).collect();
    let eq = parse(equation, &ranks)?;
    let in_output = |l: char| eq.output.contains(&l);
    match operands {
        [a] => {
            let (a, labels) = sum_out(a, &eq.inputs[0], in_output)?;
            c(permute(&a, &labels, &eq.output)?.contiguous())
        }
        [a, b] => {
            let (la, lb) = (&eq.inputs[0], &eq.inputs[1]);
            // A label in one operand and not the output is summed out first.
            let (a, la) = sum_out(a, la, |l| in_output(l) || lb.contains(&l))?;
            let (b, lb) = sum_out(b, lb, |l| in_output(l) || la.contains(&l))?;
            let batch: Vec<char> = la
                .iter()
                .copied()
                .filter(|l| lb.contains(l) && in_output(*l))
                .collect();
            let contracted: Vec<char> = la
                .iter()
                .copied()
                .filter(|l| lb.contains(l) && !in_output(*l))
                .collect();
            let left: Vec<char> = la.iter().copied().filter(|l| !lb.contains(l)).collect();
            let right: Vec<char> = lb.iter().copied().filter(|l| !la.contains(l)).collect();
            for &l in batch.iter().chain(&contracted) {
                let (sa, sb) = (size_of(&a, &la, l), size_of(&b, &lb, l));
                if sa != sb {
                    return Err(format!(
                        "Einsum `{equation}`: label `{l}` is {sa} in one operand and {sb} in the other"
                    ));
                }
            }
            let prod = |t: &Tensor, ls: &[char], of: &[char]| -> usize {
                of.iter().map(|&l| size_of(t, ls, l)).product()
            };
            let (nb, nk) = (prod(&a, &la, &batch), prod(&a, &la, &contracted));
            let (nl, nr) = (prod(&a, &la, &left), prod(&b, &lb, &right));
            let order_a: Vec<char> = batch
                .iter()
                .chain(&left)
                .chain(&contracted)
                .copied()
                .collect();
            let order_b: Vec<char> = batch
                .iter()
                .chain(&contracted)
                .chain(&right)
                .copied()
                .collect();
            let a3 = c(permute(&a, &la, &order_a)?
                .contiguous()
                .and_then(|t| t.reshape((nb, nl, nk))))?;
            let b3 = c(permute(&b, &lb, &order_b)?
                .contiguous()
                .and_then(|t| t.reshape((nb, nk, nr))))?;
            let y = c(a3.matmul(&b3))?;
            let labels: Vec<char> = batch.iter().chain(&left).chain(&right).copied().collect();
            let dims: Vec<usize> = batch
                .iter()
                .map(|&l| size_of(&a, &la, l))
                .chain(left.iter().map(|&l| size_of(&a, &la, l)))
                .chain(right.iter().map(|&l| size_of(&b, &lb, l)))
                .collect();
            let y = c(y.reshape(dims))?;
            c(permute(&y, &labels, &eq.output)?.contiguous())
        }
        _ => Err(format!(
            "Einsum `{equation}` with {} operands: one or two are supported",
            operands.len()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Var};

    fn t(dims: &[usize], seed: u64) -> Tensor {
        let n: usize = dims.iter().product();
        let v: Vec<f32> = (0..n)
            .map(|i| ((i as u64 * 2654435761 + seed * 97) % 1000) as f32 / 500.0 - 1.0)
            .collect();
        Tensor::from_vec(v, dims, &Device::Cpu).unwrap()
    }

    fn close(a: &Tensor, b: &Tensor) {
        assert_eq!(a.dims(), b.dims());
        let d = (a - b).unwrap().abs().unwrap().max_all().unwrap();
        assert!(d.to_scalar::<f32>().unwrap() < 1e-5, "{a} vs {b}");
    }

    #[test]
    fn attention_scores_are_batched_products() {
        // candle's matmul takes at most 4-D operands: the expectation runs on 3-D views.
        let bmm = |a: &Tensor, b: &Tensor| {
            let (n, m, k, p) = (24, a.dims()[3], a.dims()[4], b.dims()[4]);
            let y = a
                .reshape((n, m, k))
                .unwrap()
                .matmul(&b.contiguous().unwrap().reshape((n, k, p)).unwrap())
                .unwrap();
            y.reshape((2, 3, 4, m, p)).unwrap()
        };
        let (q, k) = (t(&[2, 3, 4, 5, 6], 1), t(&[2, 3, 4, 7, 6], 2));
        let y = einsum("B G H I D, B G H J D -> B G H I J", &[q.clone(), k.clone()]).unwrap();
        close(&y, &bmm(&q, &k.transpose(3, 4).unwrap()));
        let v = t(&[2, 3, 4, 7, 6], 3);
        let o = einsum("BGHIJ,BGHJD->BGHID", &[y.clone(), v.clone()]).unwrap();
        close(&o, &bmm(&y, &v));
    }

    #[test]
    fn matrix_forms_transposes_and_sums() {
        let (a, b) = (t(&[3, 4], 1), t(&[4, 5], 2));
        close(
            &einsum("ij,jk->ik", &[a.clone(), b.clone()]).unwrap(),
            &a.matmul(&b).unwrap(),
        );
        close(
            &einsum("ij,jk", &[a.clone(), b.clone()]).unwrap(),
            &a.matmul(&b).unwrap(),
        );
        close(
            &einsum("ij,jk->ki", &[a.clone(), b.clone()]).unwrap(),
            &a.matmul(&b).unwrap().t().unwrap(),
        );
        close(
            &einsum("ij->ji", std::slice::from_ref(&a)).unwrap(),
            &a.t().unwrap(),
        );
        close(
            &einsum("ij->i", std::slice::from_ref(&a)).unwrap(),
            &a.sum(1).unwrap(),
        );
        // An outer product, and a label summed out of one operand before the product.
        let (x, y) = (t(&[3], 1), t(&[4], 2));
        let outer = einsum("i,j->ij", &[x.clone(), y.clone()]).unwrap();
        close(
            &outer,
            &x.unsqueeze(1)
                .unwrap()
                .broadcast_mul(&y.unsqueeze(0).unwrap())
                .unwrap(),
        );
        let z = einsum("ij,k->i", &[a.clone(), x.clone()]).unwrap();
        close(
            &z,
            &a.sum(1)
                .unwrap()
                .affine(x.sum_all().unwrap().to_scalar::<f32>().unwrap() as f64, 0.0)
                .unwrap(),
        );
    }

    #[test]
    fn ellipsis_and_gradients() {
        let (a, b) = (t(&[2, 3, 4, 5], 1), t(&[2, 3, 5, 6], 2));
        let y = einsum("...ij,...jk->...ik", &[a.clone(), b.clone()]).unwrap();
        close(&y, &a.matmul(&b).unwrap());
        let va = Var::from_tensor(&a).unwrap();
        let s = einsum("...ij,...jk->...ik", &[va.as_tensor().clone(), b.clone()])
            .unwrap()
            .sum_all()
            .unwrap();
        let g = s.backward().unwrap();
        let ga = g.get(va.as_tensor()).unwrap();
        // d/dA sum(A B) = 1 Bᵀ: row sums of B broadcast over i.
        let expect = b
            .sum_keepdim(3)
            .unwrap()
            .transpose(2, 3)
            .unwrap()
            .broadcast_as(a.dims())
            .unwrap();
        close(ga, &expect.contiguous().unwrap());
    }

    #[test]
    fn matmul_follows_numpy() {
        let (a, b) = (t(&[2, 1, 3, 4, 5], 1), t(&[3, 5, 6], 2));
        let y = matmul(&a, &b).unwrap();
        assert_eq!(y.dims(), &[2, 1, 3, 4, 6]);
        // Batch (0, 0, 1) of the result is a[0, 0, 1] · b[1].
        let a01 = a.get(0).unwrap().get(0).unwrap().get(1).unwrap();
        let y01 = y.get(0).unwrap().get(0).unwrap().get(1).unwrap();
        close(&y01, &a01.matmul(&b.get(1).unwrap()).unwrap());
        let (v, m) = (t(&[5], 3), t(&[5, 6], 4));
        let vm = matmul(&v, &m).unwrap();
        assert_eq!(vm.dims(), &[6]);
        close(
            &vm,
            &v.unsqueeze(0)
                .unwrap()
                .matmul(&m)
                .unwrap()
                .squeeze(0)
                .unwrap(),
        );
        let mv = matmul(&m.t().unwrap(), &v).unwrap();
        assert_eq!(mv.dims(), &[6]);
        assert!(matmul(&m, &m).unwrap_err().contains("inner sizes"));
    }

    #[test]
    fn malformed_equations_are_errors() {
        let a = t(&[3, 3], 1);
        assert!(einsum("ii->i", std::slice::from_ref(&a))
            .unwrap_err()
            .contains("repeats"));
        assert!(einsum("ij,jk->ik", std::slice::from_ref(&a))
            .unwrap_err()
            .contains("operands"));
        assert!(einsum("ijk->i", std::slice::from_ref(&a))
            .unwrap_err()
            .contains("rank-2"));
        assert!(einsum("i...j...->ij", std::slice::from_ref(&a))
            .unwrap_err()
            .contains("twice"));
        assert!(einsum("ij->ii", std::slice::from_ref(&a))
            .unwrap_err()
            .contains("repeats"));
        assert!(einsum("ij->q", std::slice::from_ref(&a))
            .unwrap_err()
            .contains("no operand"));
        let b = t(&[4, 2], 2);
        assert!(einsum("ij,jk->ik", &[a, b]).unwrap_err().contains("is 3"));
    }
}
