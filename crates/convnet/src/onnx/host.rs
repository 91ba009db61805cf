//! Values that live on the host while a graph runs: initialisers, constants and the shape
//! arithmetic (Shape → Gather → Concat → Reshape …) that exporters emit around the tensors.
//! They are small, so they are computed with ndarray, never differentiated, and fold away
//! at load time whenever they do not depend on the input.
use super::proto::{data_type, TensorProto};
use ndarray::{ArrayD, Axis, IxDyn, Slice};
use std::path::Path;

/// A host tensor: float32, or integers (int64, and booleans as 0/1).
#[derive(Clone, Debug, PartialEq)]
pub enum Host {
    F32(ArrayD<f32>),
    I64(ArrayD<i64>),
}

fn array<T>(dims: &[usize], data: Vec<T>) -> Result<ArrayD<T>, String> {
    let n = data.len();
    ArrayD::from_shape_vec(IxDyn(dims), data)
        .map_err(|_| format!("{n} values do not fill shape {dims:?}"))
}

impl Host {
    pub fn shape(&self) -> &[usize] {
        match self {
            Host::F32(a) => a.shape(),
            Host::I64(a) => a.shape(),
        }
    }

    pub fn len(&self) -> usize {
        self.shape().iter().product()
    }

    pub fn ints(dims: &[usize], data: Vec<i64>) -> Result<Host, String> {
        Ok(Host::I64(array(dims, data)?))
    }

    pub fn floats(dims: &[usize], data: Vec<f32>) -> Result<Host, String> {
        Ok(Host::F32(array(dims, data)?))
    }

    /// The values as integers (floats truncated toward zero, as Cast does).
    pub fn to_i64(&self) -> Vec<i64> {
        match self {
            Host::I64(a) => a.iter().copied().collect(),
            Host::F32(a) => a.iter().map(|&v| v as i64).collect(),
        }
    }

    pub fn to_f32(&self) -> ArrayD<f32> {
        match self {
            Host::F32(a) => a.clone(),
            Host::I64(a) => a.mapv(|v| v as f32),
        }
    }

    /// The single value of a one-element tensor.
    pub fn scalar_f32(&self) -> Result<f32, String> {
        match self.len() {
            1 => Ok(self.to_f32().iter().copied().next().unwrap_or_default()),
            n => Err(format!("expected a scalar, got {n} values")),
        }
    }

    /// Decodes an initialiser or a Constant's tensor; external data is read from `dir`.
    pub fn from_proto(t: &TensorProto, dir: &Path) -> Result<Host, String> {
        let dims: Vec<usize> = t
            .dims
            .iter()
            .map(|&d| usize::try_from(d).map_err(|_| format!("negative dimension {d}")))
            .collect::<Result<_, _>>()?;
        let count: usize = dims.iter().product();
        let external;
        let raw: &[u8] = if t.data_location == 1 {
            external = read_external(t, dir)?;
            &external
        } else {
            &t.raw_data
        };
        let have_raw = t.data_location == 1 || !t.raw_data.is_empty();
        let width = match t.data_type {
            data_type::FLOAT | data_type::INT32 => 4,
            data_type::INT64 | data_type::DOUBLE => 8,
            data_type::UINT8 | data_type::INT8 | data_type::BOOL => 1,
            data_type::FLOAT16 => 2,
            other => return Err(format!("unsupported tensor data type {other}")),
        };
        if have_raw && raw.len() != count * width {
            return Err(format!(
                "{} bytes of data for shape {dims:?} ({} expected): truncated or corrupt",
                raw.len(),
                count * width
            ));
        }
        let chunks = || raw.chunks_exact(width);
        match t.data_type {
            data_type::FLOAT if have_raw => Self::floats(
                &dims,
                chunks()
                    .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                    .collect(),
            ),
            data_type::FLOAT => Self::floats(&dims, t.float_data.clone()),
            data_type::DOUBLE if have_raw => Self::floats(
                &dims,
                chunks()
                    .map(|b| f64::from_le_bytes(b.try_into().unwrap_or([0; 8])) as f32)
                    .collect(),
            ),
            data_type::DOUBLE => {
                Self::floats(&dims, t.double_data.iter().map(|&v| v as f32).collect())
            }
            data_type::FLOAT16 if have_raw => Self::floats(
                &dims,
                chunks()
                    .map(|b| half_to_f32(u16::from_le_bytes([b[0], b[1]])))
                    .collect(),
            ),
            data_type::FLOAT16 => Self::floats(
                &dims,
                t.int32_data
                    .iter()
                    .map(|&v| half_to_f32(v as u16))
                    .collect(),
            ),
            data_type::INT64 if have_raw => Self::ints(
                &dims,
                chunks()
                    .map(|b| i64::from_le_bytes(b.try_into().unwrap_or([0; 8])))
                    .collect(),
            ),
            data_type::INT64 => Self::ints(&dims, t.int64_data.clone()),
            data_type::INT32 if have_raw => Self::ints(
                &dims,
                chunks()
                    .map(|b| i32::from_le_bytes([b[0], b[1], b[2], b[3]]) as i64)
                    .collect(),
            ),
            data_type::INT8 if have_raw => {
                Self::ints(&dims, raw.iter().map(|&b| b as i8 as i64).collect())
            }
            data_type::UINT8 | data_type::BOOL if have_raw => {
                Self::ints(&dims, raw.iter().map(|&b| b as i64).collect())
            }
            _ => Self::ints(&dims, t.int32_data.iter().map(|&v| v as i64).collect()),
        }
    }
}

/// IEEE half precision to single.
fn half_to_f32(h: u16) -> f32 {
    let sign = if h & 0x8000 != 0 { -1.0 } else { 1.0 };
    let exp = ((h >> 10) & 0x1f) as i32;
    let frac = (h & 0x3ff) as f32;
    sign * match exp {
        0 => frac * 2f32.powi(-24),
        31 if frac == 0.0 => f32::INFINITY,
        31 => f32::NAN,
        e => (1.0 + frac / 1024.0) * 2f32.powi(e - 15),
    }
}

/// The bytes of a tensor stored beside the model (`location`, `offset`, `length`).
fn read_external(t: &TensorProto, dir: &Path) -> Result<Vec<u8>, String> {
    let get = |k: &str| {
        t.external_data
            .iter()
            .find(|e| e.key == k)
            .map(|e| &e.value)
    };
    let location = get("location").ok_or("external data without a location")?;
    let parse = |k: &str| -> Result<Option<u64>, String> {
        get(k)
            .map(|v| {
                v.parse()
                    .map_err(|_| format!("external data {k} `{v}` is not a number"))
            })
            .transpose()
    };
    let path = dir.join(location);
    if Path::new(location).is_absolute() || location.contains("..") {
        return Err(format!(
            "external data location `{location}` leaves the model's folder"
        ));
    }
    let bytes =
        std::fs::read(&path).map_err(|e| format!("external data {}: {e}", path.display()))?;
    let offset = parse("offset")?.unwrap_or(0) as usize;
    let end = match parse("length")? {
        Some(l) => offset.saturating_add(l as usize),
        None => bytes.len(),
    };
    bytes.get(offset..end).map(<[u8]>::to_vec).ok_or_else(|| {
        format!(
            "external data {} has {} bytes; tensor `{}` needs bytes {offset}..{end}",
            path.display(),
            bytes.len(),
            t.name
        )
    })
}

/// An axis attribute or input (negative counts from the end) as an index below `rank`.
pub fn axis(a: i64, rank: usize) -> Result<usize, String> {
    let r = rank as i64;
    let v = if a < 0 { a + r } else { a };
    if (0..r).contains(&v) {
        Ok(v as usize)
    } else {
        Err(format!("axis {a} is out of range for rank {rank}"))
    }
}

/// Reshape's target: 0 copies the input's dimension (unless `allowzero`), −1 is inferred.
pub fn reshape_dims(input: &[usize], spec: &[i64], allowzero: bool) -> Result<Vec<usize>, String> {
    let total: usize = input.iter().product();
    let mut out = Vec::with_capacity(spec.len());
    let mut infer = None;
    for (i, &s) in spec.iter().enumerate() {
        out.push(match s {
            -1 if infer.is_none() => {
                infer = Some(i);
                1
            }
            0 if !allowzero => *input
                .get(i)
                .ok_or_else(|| format!("reshape copies dimension {i}, which {input:?} lacks"))?,
            s if s >= 0 => s as usize,
            s => return Err(format!("reshape to {spec:?}: invalid dimension {s}")),
        });
    }
    if let Some(i) = infer {
        let known: usize = out.iter().product();
        if known == 0 || !total.is_multiple_of(known) {
            return Err(format!("cannot reshape {input:?} to {spec:?}"));
        }
        out[i] = total / known;
    }
    if out.iter().product::<usize>() != total {
        return Err(format!("cannot reshape {input:?} to {spec:?}"));
    }
    Ok(out)
}

/// One axis of a Slice: start, end (exclusive) and step, clamped as ONNX specifies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SliceAxis {
    pub axis: usize,
    pub start: isize,
    pub end: isize,
    pub step: isize,
}

/// Slice's inputs resolved against `dims`.
pub fn slice_axes(
    dims: &[usize],
    starts: &[i64],
    ends: &[i64],
    axes: Option<&[i64]>,
    steps: Option<&[i64]>,
) -> Result<Vec<SliceAxis>, String> {
    if starts.len() != ends.len() {
        return Err("Slice: starts and ends differ in length".into());
    }
    let mut out = Vec::with_capacity(starts.len());
    for i in 0..starts.len() {
        let ax = axis(axes.map_or(i as i64, |a| a[i]), dims.len())?;
        let step = steps.map_or(1, |s| s[i]);
        if step == 0 {
            return Err("Slice: step 0".into());
        }
        let len = dims[ax] as i64;
        let clamp = |v: i64, lo: i64, hi: i64| {
            let v = if v < 0 { v + len } else { v };
            v.clamp(lo, hi)
        };
        let (start, end) = if step > 0 {
            (clamp(starts[i], 0, len), clamp(ends[i], 0, len))
        } else {
            (clamp(starts[i], 0, len - 1), clamp(ends[i], -1, len - 1))
        };
        out.push(SliceAxis {
            axis: ax,
            start: start as isize,
            end: end as isize,
            step: step as isize,
        });
    }
    Ok(out)
}

/// numpy's broadcast of two shapes.
pub fn broadcast(a: &[usize], b: &[usize]) -> Result<Vec<usize>, String> {
    let r = a.len().max(b.len());
    let at = |s: &[usize], i: usize| {
        if i + s.len() < r {
            1
        } else {
            s[i + s.len() - r]
        }
    };
    (0..r)
        .map(|i| match (at(a, i), at(b, i)) {
            (x, y) if x == y || y == 1 => Ok(x),
            (1, y) => Ok(y),
            _ => Err(format!("shapes {a:?} and {b:?} do not broadcast")),
        })
        .collect()
}

fn map_both<R>(
    a: &Host,
    b: &Host,
    f: impl Fn(&ArrayD<f32>, &ArrayD<f32>) -> R,
    g: impl Fn(&ArrayD<i64>, &ArrayD<i64>) -> R,
) -> R {
    match (a, b) {
        (Host::I64(x), Host::I64(y)) => g(x, y),
        _ => f(&a.to_f32(), &b.to_f32()),
    }
}

/// Element-wise arithmetic with broadcasting (integer division truncates, as ONNX's).
pub fn binary(op: &str, a: &Host, b: &Host) -> Result<Host, String> {
    let shape = broadcast(a.shape(), b.shape())?;
    let grow = |x: &ArrayD<f32>| {
        x.broadcast(IxDyn(&shape))
            .map(|v| v.to_owned())
            .ok_or_else(|| "broadcast failed".to_string())
    };
    let grow_i = |x: &ArrayD<i64>| {
        x.broadcast(IxDyn(&shape))
            .map(|v| v.to_owned())
            .ok_or_else(|| "broadcast failed".to_string())
    };
    map_both(
        a,
        b,
        |x, y| {
            let (x, y) = (grow(x)?, grow(y)?);
            Ok(Host::F32(match op {
                "Add" => x + y,
                "Sub" => x - y,
                "Mul" => x * y,
                "Div" => x / y,
                "Pow" => ndarray::Zip::from(&x)
                    .and(&y)
                    .map_collect(|a, b| a.powf(*b)),
                "Max" => ndarray::Zip::from(&x).and(&y).map_collect(|a, b| a.max(*b)),
                "Min" => ndarray::Zip::from(&x).and(&y).map_collect(|a, b| a.min(*b)),
                // ONNX `Mod` of floats is C's fmod (the dividend's sign); ONNX allows floats
                // only with fmod = 1, which the caller spells `FMod`.
                "Mod" | "FMod" => ndarray::Zip::from(&x).and(&y).map_collect(|a, b| a % b),
                "Equal" => {
                    return Ok(Host::I64(
                        ndarray::Zip::from(&x)
                            .and(&y)
                            .map_collect(|a, b| (a == b) as i64),
                    ))
                }
                "Less" => {
                    return Ok(Host::I64(
                        ndarray::Zip::from(&x)
                            .and(&y)
                            .map_collect(|a, b| (a < b) as i64),
                    ))
                }
                "Greater" => {
                    return Ok(Host::I64(
                        ndarray::Zip::from(&x)
                            .and(&y)
                            .map_collect(|a, b| (a > b) as i64),
                    ))
                }
                _ => return Err(format!("{op} is not a host arithmetic op")),
            }))
        },
        |x, y| {
            let (x, y) = (grow_i(x)?, grow_i(y)?);
            let z = ndarray::Zip::from(&x).and(&y);
            Ok(Host::I64(match op {
                "Add" => z.map_collect(|a, b| a.wrapping_add(*b)),
                "Sub" => z.map_collect(|a, b| a.wrapping_sub(*b)),
                "Mul" => z.map_collect(|a, b| a.wrapping_mul(*b)),
                "Div" => {
                    if y.iter().any(|&v| v == 0) {
                        return Err("integer division by zero".into());
                    }
                    z.map_collect(|a, b| a.wrapping_div(*b))
                }
                "Max" => z.map_collect(|a, b| *a.max(b)),
                "Min" => z.map_collect(|a, b| *a.min(b)),
                // ONNX `Mod` on integers: with fmod = 0 the divisor's sign (Python's %), with
                // fmod = 1 (`FMod`) the dividend's (C's %).
                "Mod" | "FMod" if y.iter().any(|&v| v == 0) => {
                    return Err("integer modulo by zero".into())
                }
                "FMod" => z.map_collect(|a, b| a.wrapping_rem(*b)),
                "Mod" => z.map_collect(|a, b| {
                    let r = a.wrapping_rem(*b);
                    if r != 0 && (r < 0) != (*b < 0) {
                        r + b
                    } else {
                        r
                    }
                }),
                "Equal" => z.map_collect(|a, b| (a == b) as i64),
                "Less" => z.map_collect(|a, b| (a < b) as i64),
                "Greater" => z.map_collect(|a, b| (a > b) as i64),
                _ => return Err(format!("{op} is not an integer op")),
            }))
        },
    )
}

/// Applies the same shape-only operation to either kind of host array.
macro_rules! both {
    ($v:expr, $a:ident => $body:expr) => {
        match $v {
            Host::F32($a) => Host::F32($body),
            Host::I64($a) => Host::I64($body),
        }
    };
}

impl Host {
    pub fn reshape(&self, dims: &[usize]) -> Result<Host, String> {
        let r = |n: usize| format!("cannot reshape {n} values to {dims:?}");
        Ok(match self {
            Host::F32(a) => Host::F32(
                a.as_standard_layout()
                    .to_owned()
                    .into_shape_with_order(IxDyn(dims))
                    .map_err(|_| r(a.len()))?,
            ),
            Host::I64(a) => Host::I64(
                a.as_standard_layout()
                    .to_owned()
                    .into_shape_with_order(IxDyn(dims))
                    .map_err(|_| r(a.len()))?,
            ),
        })
    }

    pub fn transpose(&self, perm: &[usize]) -> Result<Host, String> {
        if perm.len() != self.shape().len() {
            return Err(format!("perm {perm:?} for rank {}", self.shape().len()));
        }
        Ok(both!(self, a => a.clone().permuted_axes(IxDyn(perm)).as_standard_layout().to_owned()))
    }

    pub fn slice(&self, axes: &[SliceAxis]) -> Host {
        fn cut<T: Clone>(a: &ArrayD<T>, axes: &[SliceAxis]) -> ArrayD<T> {
            let mut v = a.view();
            for s in axes {
                let sl = if s.step > 0 {
                    Slice::new(s.start, Some(s.end.max(s.start)), s.step)
                } else {
                    // A negative step walks from `start` down to just above `end`.
                    let lo = s.end + 1;
                    let hi = s.start + 1;
                    Slice::new(lo.min(hi), Some(hi), s.step)
                };
                v.slice_axis_inplace(Axis(s.axis), sl);
            }
            v.to_owned()
        }
        both!(self, a => cut(a, axes))
    }

    /// Gather along `axis` with (possibly negative) indices of any shape.
    pub fn gather(&self, axis_: usize, indices: &Host) -> Result<Host, String> {
        let len = self.shape()[axis_] as i64;
        let idx: Vec<usize> = indices
            .to_i64()
            .into_iter()
            .map(|i| {
                let j = if i < 0 { i + len } else { i };
                if (0..len).contains(&j) {
                    Ok(j as usize)
                } else {
                    Err(format!("Gather index {i} out of range for length {len}"))
                }
            })
            .collect::<Result<_, _>>()?;
        let mut dims: Vec<usize> = self.shape()[..axis_].to_vec();
        dims.extend_from_slice(indices.shape());
        dims.extend_from_slice(&self.shape()[axis_ + 1..]);
        both!(self, a => a.select(Axis(axis_), &idx)).reshape(&dims)
    }

    pub fn concat(parts: &[Host], axis_: usize) -> Result<Host, String> {
        let err = |e: ndarray::ShapeError| format!("Concat: {e}");
        if parts.iter().all(|p| matches!(p, Host::I64(_))) {
            let views: Vec<_> = parts
                .iter()
                .filter_map(|p| match p {
                    Host::I64(a) => Some(a.view()),
                    Host::F32(_) => None,
                })
                .collect();
            Ok(Host::I64(
                ndarray::concatenate(Axis(axis_), &views).map_err(err)?,
            ))
        } else {
            let owned: Vec<_> = parts.iter().map(Host::to_f32).collect();
            let views: Vec<_> = owned.iter().map(|a| a.view()).collect();
            Ok(Host::F32(
                ndarray::concatenate(Axis(axis_), &views).map_err(err)?,
            ))
        }
    }

    pub fn expand(&self, dims: &[usize]) -> Result<Host, String> {
        let shape = broadcast(self.shape(), dims)?;
        let e = || format!("cannot expand {:?} to {dims:?}", self.shape());
        Ok(both!(self, a => a.broadcast(IxDyn(&shape)).ok_or_else(e)?.to_owned()))
    }

    /// ONNX ScatterND: a copy of `self` with the slices that `indices` (`[..., k]`, each
    /// row a position in the first k axes) name replaced by, or combined with, `updates`.
    /// Exporters emit it for slice assignment (`mask[a:b, c:d] = v`), such as the window
    /// masks of shifted-window attention, on values that fold at load time.
    pub fn scatter_nd(
        &self,
        indices: &Host,
        updates: &Host,
        reduction: &str,
    ) -> Result<Host, String> {
        let shape = self.shape().to_vec();
        let ishape = indices.shape();
        let k = *ishape.last().ok_or("ScatterND indices are a scalar")?;
        if k == 0 || k > shape.len() {
            return Err(format!(
                "ScatterND index rows of {k} into a tensor of shape {shape:?}"
            ));
        }
        let rows = ishape[..ishape.len() - 1].iter().product::<usize>();
        let slice: usize = shape[k..].iter().product();
        let want: Vec<usize> = ishape[..ishape.len() - 1]
            .iter()
            .chain(&shape[k..])
            .copied()
            .collect();
        if updates.shape() != want.as_slice() {
            return Err(format!(
                "ScatterND updates have shape {:?}, indices {ishape:?} into {shape:?} need {want:?}",
                updates.shape()
            ));
        }
        let idx = indices.to_i64();
        let mut offsets = Vec::with_capacity(rows);
        for r in 0..rows {
            let mut off = 0usize;
            for (a, &i) in idx[r * k..(r + 1) * k].iter().enumerate() {
                let d = shape[a] as i64;
                let i = if i < 0 { i + d } else { i };
                if !(0..d).contains(&i) {
                    return Err(format!(
                        "ScatterND index {i} out of range for axis {a} of size {d}"
                    ));
                }
                off = off * shape[a] + i as usize;
            }
            offsets.push(off * slice);
        }
        fn apply<T: Copy + PartialOrd + std::ops::Add<Output = T> + std::ops::Mul<Output = T>>(
            data: &mut [T],
            upd: &[T],
            offsets: &[usize],
            slice: usize,
            reduction: &str,
        ) -> Result<(), String> {
            for (r, &o) in offsets.iter().enumerate() {
                for (d, &u) in data[o..o + slice]
                    .iter_mut()
                    .zip(&upd[r * slice..(r + 1) * slice])
                {
                    *d = match reduction {
                        "none" => u,
                        "add" => *d + u,
                        "mul" => *d * u,
                        "max" => {
                            if u > *d {
                                u
                            } else {
                                *d
                            }
                        }
                        "min" => {
                            if u < *d {
                                u
                            } else {
                                *d
                            }
                        }
                        other => return Err(format!("ScatterND reduction `{other}`")),
                    };
                }
            }
            Ok(())
        }
        match (self, updates) {
            (Host::I64(_), Host::I64(_)) => {
                let mut data = self.to_i64();
                apply(&mut data, &updates.to_i64(), &offsets, slice, reduction)?;
                Host::ints(&shape, data)
            }
            _ => {
                let mut data: Vec<f32> = self.to_f32().iter().copied().collect();
                let upd: Vec<f32> = updates.to_f32().iter().copied().collect();
                apply(&mut data, &upd, &offsets, slice, reduction)?;
                Host::floats(&shape, data)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modulo_follows_onnx() {
        let a = Host::ints(&[4], vec![7, -7, 7, -7]).unwrap();
        let b = Host::ints(&[4], vec![3, 3, -3, -3]).unwrap();
        // Integer Mod (fmod = 0) takes the divisor's sign, as Python's %.
        assert_eq!(binary("Mod", &a, &b).unwrap().to_i64(), vec![1, 2, -2, -1]);
        assert!(binary("Mod", &a, &Host::ints(&[1], vec![0]).unwrap()).is_err());
        // fmod = 1 on floats is C's fmod, the dividend's sign.
        let f = binary(
            "Mod",
            &Host::floats(&[2], vec![7.5, -7.5]).unwrap(),
            &Host::floats(&[1], vec![2.0]).unwrap(),
        );
        assert_eq!(
            f.unwrap().to_f32().iter().copied().collect::<Vec<_>>(),
            vec![1.5, -1.5]
        );
    }

    #[test]
    fn scatter_nd_writes_rows_and_slices() {
        let data = Host::ints(&[2, 3], vec![0; 6]).unwrap();
        // Whole rows (k = 1) ...
        let rows = Host::ints(&[1, 1], vec![1]).unwrap();
        let upd = Host::ints(&[1, 3], vec![4, 5, 6]).unwrap();
        let y = data.scatter_nd(&rows, &upd, "none").unwrap();
        assert_eq!(y.to_i64(), vec![0, 0, 0, 4, 5, 6]);
        // ... single elements (k = 2), negative indices, and the add reduction.
        let at = Host::ints(&[2, 2], vec![0, -1, 1, 0]).unwrap();
        let upd = Host::ints(&[2], vec![9, 1]).unwrap();
        assert_eq!(
            y.scatter_nd(&at, &upd, "add").unwrap().to_i64(),
            vec![0, 0, 9, 5, 5, 6]
        );
        let floats = Host::floats(&[2, 3], vec![1.0; 6]).unwrap();
        let f = floats
            .scatter_nd(&at, &Host::floats(&[2], vec![0.5, 3.0]).unwrap(), "max")
            .unwrap();
        assert_eq!(
            f.to_f32().iter().copied().collect::<Vec<_>>(),
            vec![1.0, 1.0, 1.0, 3.0, 1.0, 1.0]
        );
        let bad = Host::ints(&[1, 2], vec![2, 0]).unwrap();
        assert!(data
            .scatter_nd(&bad, &Host::ints(&[1], vec![1]).unwrap(), "none")
            .unwrap_err()
            .contains("out of range"));
        assert!(data
            .scatter_nd(&rows, &Host::ints(&[2], vec![1, 2]).unwrap(), "none")
            .unwrap_err()
            .contains("need"));
    }
}
