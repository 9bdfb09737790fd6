//! # VGG16, convolutional base
//!
//! "Very Deep Convolutional Networks for Large-Scale Image Recognition", Simonyan & Zisserman,
//! 2014 (<https://arxiv.org/abs/1409.1556>). Reference implementation: timm `vgg16`
//! (`timm/models/vgg.py`, the same stack as torchvision's `vgg16().features`).
//!
//! Thirteen 3x3 stride-1 convolutions with bias, symmetric padding 1 and ReLU, in five stages
//! separated by 2x2 stride-2 max pools; features = global average pool of the last map (512 at
//! 224, map 7x7). Dense maps: conv5_3 + ReLU before the last pool (stride 16), conv4_3 + ReLU
//! (stride 8). timm's `pre_logits` (the fc6/fc7 ConvMlp) and `head` are not part of the port.
//!
//! Weights: `timm/vgg16.tv_in1k` on the Hub (torchvision's), or the original Oxford/Keras weights
//! converted to these keys (`vgg16.keras.safetensors`). Both flavors run the same graph; they
//! differ only in input normalisation: Keras `caffe` (RGB minus the ImageNet mean, no scaling) and
//! timm's ImageNet mean/std on `[0, 1]`.

use candle_core::Tensor;
use candle_nn::VarBuilder;

use crate::backbone::{Backbone, BackboneKind, DenseLayer, Flavor, InputSpec};
use crate::error::Result;
use crate::kernels::Activation;
use crate::layers::{Conv2d, ConvShape, Padding, check_input, global_avg_pool, max_pool2d};

/// One entry of the VGG16 plan: a convolution to `n` channels at checkpoint index `i`, or a pool.
#[derive(Clone, Copy, Debug)]
enum Layer {
    Conv { out: usize, key: usize },
    Pool,
}

/// VGG16 configuration: the layer plan and the flavor (which only sets the input normalisation).
#[derive(Clone, Debug)]
pub struct Config {
    flavor: Flavor,
    plan: Vec<Layer>,
}

#[rustfmt::skip]
const PLAN: [Layer; 18] = [
    Layer::Conv { out: 64, key: 0 }, Layer::Conv { out: 64, key: 2 }, Layer::Pool,
    Layer::Conv { out: 128, key: 5 }, Layer::Conv { out: 128, key: 7 }, Layer::Pool,
    Layer::Conv { out: 256, key: 10 }, Layer::Conv { out: 256, key: 12 }, Layer::Conv { out: 256, key: 14 }, Layer::Pool,
    Layer::Conv { out: 512, key: 17 }, Layer::Conv { out: 512, key: 19 }, Layer::Conv { out: 512, key: 21 }, Layer::Pool,
    Layer::Conv { out: 512, key: 24 }, Layer::Conv { out: 512, key: 26 }, Layer::Conv { out: 512, key: 28 }, Layer::Pool,
];

impl Config {
    /// timm's `vgg16` (ImageNet mean/std input).
    pub fn timm() -> Self {
        Self::for_flavor(Flavor::Timm)
    }

    /// Keras's `VGG16(include_top=False)` (`caffe` input).
    pub fn keras() -> Self {
        Self::for_flavor(Flavor::Keras)
    }

    /// The configuration of `flavor`.
    pub fn for_flavor(flavor: Flavor) -> Self {
        Self {
            flavor,
            plan: PLAN.to_vec(),
        }
    }
}

/// The VGG16 convolutional base.
#[derive(Clone, Debug)]
pub struct Vgg16 {
    flavor: Flavor,
    layers: Vec<Step>,
}

#[derive(Clone, Debug)]
enum Step {
    Conv(Conv2d),
    Pool,
}

impl Vgg16 {
    /// Builds the network from `features.{i}.{weight,bias}` under `vb`.
    pub fn new(cfg: &Config, vb: VarBuilder) -> Result<Self> {
        let vb = vb.pp("features");
        let mut c_in = 3;
        let mut layers = Vec::with_capacity(cfg.plan.len());
        for layer in &cfg.plan {
            match *layer {
                Layer::Conv { out, key } => {
                    let shape = ConvShape {
                        c_in,
                        c_out: out,
                        k: 3,
                        stride: 1,
                        padding: Padding::Symmetric(1),
                    };
                    let conv = Conv2d::load(vb.pp(key.to_string()), shape, true)?;
                    layers.push(Step::Conv(conv.with_act(Activation::Relu)));
                    c_in = out;
                }
                Layer::Pool => layers.push(Step::Pool),
            }
        }
        Ok(Self {
            flavor: cfg.flavor,
            layers,
        })
    }

    /// The last feature map `[N, 512, H/32, W/32]`.
    pub fn forward_map(&self, xs: &Tensor) -> Result<Tensor> {
        check_input("vgg16", xs, 32)?;
        self.run(xs, &self.layers)
    }

    /// The dense map of `layer`: the layers up to (not including) the last max pool for
    /// [`DenseLayer::Last`] (conv5_3 + ReLU), or the one before it for
    /// [`DenseLayer::PreviousStage`] (conv4_3 + ReLU).
    pub fn forward_dense(&self, xs: &Tensor, layer: DenseLayer) -> Result<Tensor> {
        let (_, h, w) = check_input("vgg16", xs, 32)?;
        BackboneKind::Vgg16.dense_grid(layer, h, w)?;
        self.run(xs, &self.layers[..self.dense_stop(layer)])
    }

    /// The dense maps of `layers` (in that order) from one pass: the steps up to the deepest
    /// one run once, each map taken where its layer ends.
    pub fn forward_dense_all(&self, xs: &Tensor, layers: &[DenseLayer]) -> Result<Vec<Tensor>> {
        let (_, h, w) = check_input("vgg16", xs, 32)?;
        let mut stops = Vec::with_capacity(layers.len());
        for &layer in layers {
            BackboneKind::Vgg16.dense_grid(layer, h, w)?;
            stops.push(self.dense_stop(layer));
        }
        let mut order = stops.clone();
        order.sort_unstable();
        order.dedup();
        let mut maps: Vec<Option<Tensor>> = vec![None; layers.len()];
        let (mut x, mut done) = (xs.clone(), 0);
        for stop in order {
            x = self.run(&x, &self.layers[done..stop])?;
            done = stop;
            for (map, _) in maps.iter_mut().zip(&stops).filter(|(_, s)| **s == stop) {
                *map = Some(x.clone());
            }
        }
        Ok(maps.into_iter().flatten().collect())
    }

    /// The index of the step after `layer`'s map: the last max pool for [`DenseLayer::Last`],
    /// the one before it for [`DenseLayer::PreviousStage`].
    fn dense_stop(&self, layer: DenseLayer) -> usize {
        let pools_left = match layer {
            DenseLayer::Last => 1,
            DenseLayer::PreviousStage => 2,
        };
        let pools: Vec<usize> = (self.layers.iter().enumerate())
            .filter(|(_, s)| matches!(s, Step::Pool))
            .map(|(i, _)| i)
            .collect();
        pools[pools.len() - pools_left]
    }

    fn run(&self, xs: &Tensor, steps: &[Step]) -> Result<Tensor> {
        let mut x = xs.clone();
        for step in steps {
            x = match step {
                Step::Conv(conv) => conv.forward(&x)?,
                Step::Pool => max_pool2d(&x, 2, 2, Padding::Valid)?,
            };
        }
        Ok(x)
    }
}

impl Backbone for Vgg16 {
    fn kind(&self) -> BackboneKind {
        BackboneKind::Vgg16
    }

    fn input(&self) -> InputSpec {
        BackboneKind::Vgg16.input(self.flavor)
    }

    fn features(&self, xs: &Tensor) -> Result<Tensor> {
        global_avg_pool(&self.forward_map(xs)?)
    }

    fn feature_map(&self, xs: &Tensor) -> Result<Tensor> {
        self.forward_map(xs)
    }

    fn dense_map(&self, xs: &Tensor, layer: DenseLayer) -> Result<Tensor> {
        self.forward_dense(xs, layer)
    }

    fn dense_maps(&self, xs: &Tensor, layers: &[DenseLayer]) -> Result<Vec<Tensor>> {
        self.forward_dense_all(xs, layers)
    }
}
