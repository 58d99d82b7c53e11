/*
 * poleax live view: the trained policy acting in the browser.
 *
 * The page embeds the policy as JSON (poleax.export.policy_dict) beside the env id; this
 * script steps gymnasium's dynamics in float64 with gymnasium's operations in gymnasium's
 * order (rounding to float32 where gymnasium's numpy does), runs the actor-critic forward
 * pass on the float32 observation in float64 as poleax's numpy Policy does, and animates the
 * result on a canvas at the env's own frame rate. Plain ES2017, no external scripts.
 *
 * window.poleaxLive drives it from outside (the tests do): pause(), play(), setState(s),
 * state(), step(action?), run(n), push(dir), reset(), setGreedy(b), output(), physics (the
 * names of the dynamics it knows), and
 * create(data): a simulation of any embedded policy that draws nothing.
 */
(function () {
  "use strict";

  const f32 = Math.fround;

  /** xorshift32: uniforms in [0, 1) from a 32-bit seed (resets and sampled actions). */
  function makeRandom(seed) {
    let s = seed >>> 0 || 0x9e3779b9;
    return function () {
      s ^= s << 13;
      s >>>= 0;
      s ^= s >>> 17;
      s ^= s << 5;
      s >>>= 0;
      return s / 4294967296;
    };
  }

  function uniform(rand, low, high) {
    return low + (high - low) * rand();
  }

  // --- environments: gymnasium's classic_control, operation for operation ------------------

  function cartPole(maxSteps) {
    const gravity = 9.8;
    const masscart = 1.0;
    const masspole = 0.1;
    const totalMass = masspole + masscart;
    const length = 0.5;
    const polemassLength = masspole * length;
    const forceMag = 10.0;
    const tau = 0.02;
    const thetaThreshold = (12 * 2 * Math.PI) / 360;
    const xThreshold = 2.4;
    return {
      maxSteps,
      reset: (rand) => [0, 1, 2, 3].map(() => uniform(rand, -0.05, 0.05)),
      observe: (s) => s.map(f32),
      step(s, action) {
        let [x, xDot, theta, thetaDot] = s;
        const force = action === 1 ? forceMag : -forceMag;
        const costheta = Math.cos(theta);
        const sintheta = Math.sin(theta);
        const temp = (force + polemassLength * (thetaDot * thetaDot) * sintheta) / totalMass;
        const thetaacc =
          (gravity * sintheta - costheta * temp) /
          (length * (4.0 / 3.0 - (masspole * (costheta * costheta)) / totalMass));
        const xacc = temp - (polemassLength * thetaacc * costheta) / totalMass;
        x = x + tau * xDot;
        xDot = xDot + tau * xacc;
        theta = theta + tau * thetaDot;
        thetaDot = thetaDot + tau * thetaacc;
        const terminated =
          x < -xThreshold || x > xThreshold || theta < -thetaThreshold || theta > thetaThreshold;
        return { state: [x, xDot, theta, thetaDot], reward: 1.0, terminated };
      },
      /** A shove of the cart: an impulse of 0.5 N s, which moves the pole as well. */
      push(s, dir) {
        const [x, xDot, theta, thetaDot] = s;
        const impulse = 0.5 * dir;
        const c = Math.cos(theta);
        const temp = impulse / totalMass;
        const dThetaDot =
          (-c * temp) / (length * (4.0 / 3.0 - (masspole * c * c) / totalMass));
        const dXDot = temp - (polemassLength * dThetaDot * c) / totalMass;
        return [x, xDot + dXDot, theta, thetaDot + dThetaDot];
      },
      screenX: (s, w) => s[0] * (w / (xThreshold * 2)) + w / 2,
      draw(ctx, s, w, h, action) {
        const scale = w / (xThreshold * 2);
        const cartY = h - 100;
        const cartX = s[0] * scale + w / 2;
        ctx.strokeStyle = "#000";
        ctx.beginPath();
        ctx.moveTo(0, cartY);
        ctx.lineTo(w, cartY);
        ctx.stroke();
        ctx.fillStyle = "#000";
        ctx.fillRect(cartX - 25, cartY - 15, 50, 30);
        const axleY = cartY - 15 / 2;
        const poleLength = scale * 2 * length;
        ctx.save();
        ctx.translate(cartX, axleY);
        ctx.rotate(s[2]);
        ctx.fillStyle = "#ca9865";
        ctx.fillRect(-5, -poleLength, 10, poleLength + 5);
        ctx.restore();
        ctx.fillStyle = "#8184cb";
        ctx.beginPath();
        ctx.arc(cartX, axleY, 5, 0, 2 * Math.PI);
        ctx.fill();
        if (action !== null) arrow(ctx, cartX, cartY + 30, action === 1 ? 1 : -1, 30);
      },
    };
  }

  function acrobot(maxSteps) {
    const dt = 0.2;
    const l1 = 1.0;
    const m1 = 1.0;
    const m2 = 1.0;
    const lc1 = 0.5;
    const lc2 = 0.5;
    const i1 = 1.0;
    const i2 = 1.0;
    const g = 9.8;
    const pi = Math.PI;
    const maxVel1 = 4 * pi;
    const maxVel2 = 9 * pi;
    const torques = [-1.0, 0.0, 1.0];
    // numpy's `v**2` is libm's pow; V8's Math.pow(v, 2) is v * v (the same but for a last
    // bit now and then)
    const sq = (v) => v * v;

    function dsdt(y) {
      const [theta1, theta2, dtheta1, dtheta2, a] = y;
      const cos2 = Math.cos(theta2);
      const sin2 = Math.sin(theta2);
      const d1 = m1 * sq(lc1) + m2 * (sq(l1) + sq(lc2) + 2 * l1 * lc2 * cos2) + i1 + i2;
      const d2 = m2 * (sq(lc2) + l1 * lc2 * cos2) + i2;
      const phi2 = m2 * lc2 * g * Math.cos(theta1 + theta2 - pi / 2.0);
      const phi1 =
        -m2 * l1 * lc2 * sq(dtheta2) * sin2 -
        2 * m2 * l1 * lc2 * dtheta2 * dtheta1 * sin2 +
        (m1 * lc1 + m2 * l1) * g * Math.cos(theta1 - pi / 2) +
        phi2;
      const ddtheta2 =
        (a + (d2 / d1) * phi1 - m2 * l1 * lc2 * sq(dtheta1) * sin2 - phi2) /
        (m2 * sq(lc2) + i2 - sq(d2) / d1);
      const ddtheta1 = -(d2 * ddtheta2 + phi1) / d1;
      return [dtheta1, dtheta2, ddtheta1, ddtheta2, 0.0];
    }

    function wrap(x, m, big) {
      const diff = big - m;
      while (x > big) x = x - diff;
      while (x < m) x = x + diff;
      return x;
    }

    // Python's min(max(x, m), big)
    const bound = (x, m, big) => {
      const low = m > x ? m : x;
      return big < low ? big : low;
    };

    const tip = (s) => {
      const x1 = l1 * Math.sin(s[0]);
      const y1 = -l1 * Math.cos(s[0]);
      return [x1, y1, x1 + Math.sin(s[0] + s[1]), y1 - Math.cos(s[0] + s[1])];
    };

    return {
      maxSteps,
      reset: (rand) => [0, 1, 2, 3].map(() => f32(uniform(rand, -0.1, 0.1))),
      observe: (s) =>
        [Math.cos(s[0]), Math.sin(s[0]), Math.cos(s[1]), Math.sin(s[1]), s[2], s[3]].map(f32),
      step(s, action) {
        // gymnasium's rk4(self._dsdt, s + [torque], [0, dt]): one step
        const y0 = [s[0], s[1], s[2], s[3], torques[action]];
        const h = dt - 0;
        const h2 = h / 2.0;
        const k1 = dsdt(y0);
        const k2 = dsdt(y0.map((y, i) => y + h2 * k1[i]));
        const k3 = dsdt(y0.map((y, i) => y + h2 * k2[i]));
        const k4 = dsdt(y0.map((y, i) => y + h * k3[i]));
        const sixth = h / 6.0;
        const ns = y0.map((y, i) => y + sixth * (k1[i] + 2 * k2[i] + 2 * k3[i] + k4[i]));
        const state = [
          wrap(ns[0], -pi, pi),
          wrap(ns[1], -pi, pi),
          bound(ns[2], -maxVel1, maxVel1),
          bound(ns[3], -maxVel2, maxVel2),
        ];
        const terminated = -Math.cos(state[0]) - Math.cos(state[1] + state[0]) > 1.0;
        return { state, reward: terminated ? 0.0 : -1.0, terminated };
      },
      /** A kick to the first link: 1 rad/s, the way that moves it towards ``dir``. */
      push(s, dir) {
        const sign = Math.cos(s[0]) >= 0 ? 1 : -1;
        return [s[0], s[1], bound(s[2] + dir * sign * 1.0, -maxVel1, maxVel1), s[3]];
      },
      screenX: (s, w, h) => w / 2 + tip(s)[0] * (h / 4.4),
      draw(ctx, s, w, h, action) {
        const scale = h / 4.4;
        const cx = w / 2;
        const cy = h / 2;
        const [x1, y1, x2, y2] = tip(s);
        ctx.strokeStyle = "#000";
        ctx.beginPath();
        ctx.moveTo(cx - 2.2 * scale, cy - scale);
        ctx.lineTo(cx + 2.2 * scale, cy - scale);
        ctx.stroke();
        ctx.lineCap = "round";
        ctx.lineWidth = 0.2 * scale;
        ctx.strokeStyle = "#00cccc";
        ctx.beginPath();
        ctx.moveTo(cx, cy);
        ctx.lineTo(cx + x1 * scale, cy - y1 * scale);
        ctx.lineTo(cx + x2 * scale, cy - y2 * scale);
        ctx.stroke();
        ctx.lineWidth = 1;
        ctx.fillStyle = "#cccc00";
        for (const [px, py] of [
          [0, 0],
          [x1, y1],
        ]) {
          ctx.beginPath();
          ctx.arc(cx + px * scale, cy - py * scale, 0.1 * scale, 0, 2 * Math.PI);
          ctx.fill();
        }
        if (action !== null && action !== 1) {
          curvedArrow(ctx, cx + x1 * scale, cy - y1 * scale, 0.35 * scale, action === 2 ? 1 : -1);
        }
      },
    };
  }

  function mountainCar(maxSteps, continuous) {
    const minPosition = -1.2;
    const maxPosition = 0.6;
    const maxSpeed = 0.07;
    const goalPosition = continuous ? 0.45 : 0.5;
    const height = (x) => Math.sin(3 * x) * 0.45 + 0.55;
    const discreteStep = (s, action) => {
      let [position, velocity] = s;
      velocity = velocity + ((action - 1) * 0.001 + Math.cos(3 * position) * -0.0025);
      velocity = Math.min(Math.max(velocity, -maxSpeed), maxSpeed);
      position = position + velocity;
      position = Math.min(Math.max(position, minPosition), maxPosition);
      if (position === minPosition && velocity < 0) velocity = 0;
      const terminated = position >= goalPosition && velocity >= 0;
      return { state: [position, velocity], reward: -1.0, terminated };
    };
    // Continuous_MountainCarEnv under NumPy 2's promotion: a float32 action makes the
    // force float32, and once gymnasium stores the state as float32 (after every step) the
    // position and velocity updates and their comparisons with Python constants run in
    // float32; after a reset the state is float64.
    const continuousStep = (s, actionArray) => {
      let [position, velocity] = s;
      const a = f32(actionArray[0]);
      const s32 = f32(position) === position && f32(velocity) === velocity;
      let force = a;
      let clipped = false;
      if (-1.0 > force) {
        force = -1.0;
        clipped = true;
      }
      if (1.0 < force) {
        force = 1.0;
        clipped = true;
      }
      const slope = 0.0025 * Math.cos(s32 ? f32(3 * position) : 3 * position);
      const dv = clipped ? force * 0.0015 - slope : f32(f32(force * f32(0.0015)) - f32(slope));
      let v32 = s32;
      velocity = s32 ? f32(velocity + f32(dv)) : velocity + dv;
      const c = (value, single) => (single ? f32(value) : value);
      if (velocity > c(maxSpeed, v32)) {
        velocity = maxSpeed;
        v32 = false;
      }
      if (velocity < c(-maxSpeed, v32)) {
        velocity = -maxSpeed;
        v32 = false;
      }
      let p32 = s32;
      position = s32 ? f32(position + f32(velocity)) : position + velocity;
      if (position > c(maxPosition, p32)) {
        position = maxPosition;
        p32 = false;
      }
      if (position < c(minPosition, p32)) {
        position = minPosition;
        p32 = false;
      }
      if (position === c(minPosition, p32) && velocity < 0) {
        velocity = 0;
        v32 = false;
      }
      const terminated = position >= c(goalPosition, p32) && velocity >= 0;
      const reward = (terminated ? 100.0 : 0) - a * a * 0.1;
      return { state: [f32(position), f32(velocity)], reward, terminated };
    };
    return {
      maxSteps,
      reset: (rand) => [uniform(rand, -0.6, -0.4), 0],
      observe: (s) => s.map(f32),
      step: continuous ? continuousStep : discreteStep,
      /** A kick to the car: 0.02 towards ``dir`` (the speed limit still holds). */
      push(s, dir) {
        const velocity = Math.min(Math.max(s[1] + 0.02 * dir, -maxSpeed), maxSpeed);
        return continuous ? [s[0], velocity].map(f32) : [s[0], velocity];
      },
      screenX: (s, w) => ((s[0] - minPosition) * w) / (maxPosition - minPosition),
      draw(ctx, s, w, h, action) {
        const scale = w / (maxPosition - minPosition);
        const base = h - 50;
        const sx = (x) => (x - minPosition) * scale;
        const sy = (x) => base - height(x) * scale * 0.6;
        ctx.strokeStyle = "#000";
        ctx.beginPath();
        for (let i = 0; i <= 100; i++) {
          const x = minPosition + ((maxPosition - minPosition) * i) / 100;
          if (i === 0) ctx.moveTo(sx(x), sy(x));
          else ctx.lineTo(sx(x), sy(x));
        }
        ctx.stroke();
        const fx = sx(goalPosition);
        const fy = sy(goalPosition);
        ctx.beginPath();
        ctx.moveTo(fx, fy);
        ctx.lineTo(fx, fy - 50);
        ctx.stroke();
        ctx.fillStyle = "#cccc00";
        ctx.beginPath();
        ctx.moveTo(fx, fy - 50);
        ctx.lineTo(fx + 25, fy - 45);
        ctx.lineTo(fx, fy - 40);
        ctx.fill();
        const x = s[0];
        ctx.save();
        ctx.translate(sx(x), sy(x));
        ctx.rotate(-Math.atan(3 * 0.45 * 0.6 * Math.cos(3 * x)));
        ctx.fillStyle = "#000";
        ctx.fillRect(-20, -30, 40, 20);
        ctx.fillStyle = "#808080";
        for (const wx of [-12, 12]) {
          ctx.beginPath();
          ctx.arc(wx, -8, 6, 0, 2 * Math.PI);
          ctx.fill();
        }
        ctx.restore();
        const push = continuous && action !== null ? action[0] : action === null ? 0 : action - 1;
        if (push !== 0) arrow(ctx, sx(x), sy(x) + 25, Math.sign(push), 30 * Math.abs(push));
      },
    };
  }

  function pendulum(maxSteps) {
    const maxSpeed = 8;
    const maxTorque = 2.0;
    const dt = 0.05;
    const g = 10.0;
    const m = 1.0;
    const l = 1.0;
    const angleNormalize = (x) => {
      const period = 2 * Math.PI;
      let r = (x + Math.PI) % period;
      if (r !== 0 && r < 0 !== period < 0) r += period;
      return r - Math.PI;
    };
    return {
      maxSteps,
      reset: (rand) => [uniform(rand, -Math.PI, Math.PI), uniform(rand, -1.0, 1.0)],
      observe: (s) => [Math.cos(s[0]), Math.sin(s[0]), s[1]].map(f32),
      step(s, actionArray) {
        const [th, thdot] = s;
        // np.clip of the float32 action: u stays float32, and so does 3.0 * u
        const u = Math.min(Math.max(f32(actionArray[0]), -maxTorque), maxTorque);
        const costs =
          angleNormalize(th) ** 2 + 0.1 * thdot ** 2 + f32(f32(0.001) * f32(u * u));
        let newthdot =
          thdot + (((3 * g) / (2 * l)) * Math.sin(th) + f32((3.0 / (m * l ** 2)) * u)) * dt;
        newthdot = Math.min(Math.max(newthdot, -maxSpeed), maxSpeed);
        const newth = th + newthdot * dt;
        return { state: [newth, newthdot], reward: -costs, terminated: false };
      },
      /** A kick to the rod: 2 rad/s, the way that moves its tip towards ``dir``. */
      push(s, dir) {
        const sign = -Math.cos(s[0]) >= 0 ? 1 : -1;
        return [s[0], Math.min(Math.max(s[1] + 2.0 * dir * sign, -maxSpeed), maxSpeed)];
      },
      screenX: (s, w, h) => w / 2 - Math.sin(s[0]) * (h / 4.4),
      draw(ctx, s, w, h, action) {
        const scale = h / 4.4;
        const cx = w / 2;
        const cy = h / 2;
        const ex = cx - Math.sin(s[0]) * scale;
        const ey = cy - Math.cos(s[0]) * scale;
        ctx.lineCap = "round";
        ctx.lineWidth = 0.2 * scale;
        ctx.strokeStyle = "#cc4d4d";
        ctx.beginPath();
        ctx.moveTo(cx, cy);
        ctx.lineTo(ex, ey);
        ctx.stroke();
        ctx.lineWidth = 1;
        ctx.fillStyle = "#000";
        ctx.beginPath();
        ctx.arc(cx, cy, 0.05 * scale, 0, 2 * Math.PI);
        ctx.fill();
        if (action !== null && action[0] !== 0) {
          const u = Math.min(Math.max(action[0], -maxTorque), maxTorque);
          curvedArrow(ctx, cx, cy, (0.25 + 0.15 * Math.abs(u)) * scale, u > 0 ? -1 : 1);
        }
      },
    };
  }

  function arrow(ctx, x, y, dir, length) {
    ctx.strokeStyle = "#d33";
    ctx.fillStyle = "#d33";
    ctx.lineWidth = 3;
    ctx.beginPath();
    ctx.moveTo(x, y);
    ctx.lineTo(x + dir * length, y);
    ctx.stroke();
    ctx.beginPath();
    ctx.moveTo(x + dir * (length + 8), y);
    ctx.lineTo(x + dir * length, y - 6);
    ctx.lineTo(x + dir * length, y + 6);
    ctx.fill();
    ctx.lineWidth = 1;
  }

  /** A circular arrow around (x, y): clockwise on screen for dir = 1. */
  function curvedArrow(ctx, x, y, radius, dir) {
    const start = -Math.PI / 2 - 1.0;
    const end = -Math.PI / 2 + 1.0;
    ctx.strokeStyle = "#d33";
    ctx.lineWidth = 3;
    ctx.beginPath();
    ctx.arc(x, y, radius, start, end);
    ctx.stroke();
    const tipAngle = dir > 0 ? end : start;
    const tx = x + radius * Math.cos(tipAngle);
    const ty = y + radius * Math.sin(tipAngle);
    ctx.fillStyle = "#d33";
    ctx.beginPath();
    ctx.arc(tx, ty, 5, 0, 2 * Math.PI);
    ctx.fill();
    ctx.lineWidth = 1;
  }

  // The dynamics by name (EnvSpec.live_physics), each from its step cap (the page's data
  // gives EnvSpec.max_steps).
  const PHYSICS = {
    cartpole: cartPole,
    acrobot: acrobot,
    "mountain-car": (maxSteps) => mountainCar(maxSteps, false),
    pendulum: pendulum,
    "mountain-car-continuous": (maxSteps) => mountainCar(maxSteps, true),
  };

  // --- the policy: poleax.networks.apply in float64, as the numpy Policy runs it ------------

  /** The forward pass of an exported policy (poleax.export.policy_dict), in float64 as
   * poleax's numpy Policy computes it (its float32 weights upcast, exactly): it agrees with
   * numpy's but for the order of BLAS's sums and the last bit of a tanh, ~1e-15. */
  function makePolicy(data) {
    const net = data.network;
    const params = data.params;
    const dense = (name) => {
      const w = params[name].w;
      const cols = w[0].length;
      const rows = [];
      for (let j = 0; j < cols; j++) rows.push(Float64Array.from(w, (row) => row[j]));
      return { rows, b: params[name].b };
    };
    const layers = {};
    for (const name of data.layers) layers[name] = dense(name);
    const activation = net.activation === "relu" ? (x) => (x > 0 ? x : 0) : Math.tanh;
    const apply = (layer, x) =>
      layer.rows.map((row, j) => {
        let sum = 0;
        for (let i = 0; i < row.length; i++) sum += x[i] * row[i];
        return sum + layer.b[j];
      });
    const tower = (prefix, x) => {
      for (let i = 0; i < net.hidden.length; i++) {
        x = apply(layers[`${prefix}_${i}`], x).map(activation);
      }
      return x;
    };
    let normalize = (obs) => obs;
    if (net.normalize_obs) {
      const mean = params.obs_norm.mean;
      const clip = data.normalization.clip;
      const std = params.obs_norm.var.map((v) => Math.sqrt(v + data.normalization.eps));
      normalize = (obs) =>
        obs.map((o, i) => Math.min(Math.max((o - mean[i]) / std[i], -clip), clip));
    }
    const space = data.action_space;
    const continuous = space.type === "box";
    // gaussian (ppo, a2c): mean and a log-std parameter, V(s) critic; squashed (sac): the head
    // gives mean then log-std, tanh-squashed; deterministic (td3, ddpg): tanh(mean) + noise.
    const actorHead = net.actor_head || "gaussian";
    const hasValue = actorHead === "gaussian";
    const logStd = continuous && actorHead !== "squashed" ? params.log_std.value : null;
    const low = continuous ? space.low : null;
    const high = continuous ? space.high : null;
    const k = continuous ? space.low.length : 0;
    /** A squashed action in [-1, 1] scaled onto the bounds. */
    const scaled = (s, i) => low[i] + (s + 1) * ((high[i] - low[i]) / 2);

    /** The actor's output and V(s) for an observation (float32 values, as the env gives). */
    function forward(obs) {
      const x = normalize(obs);
      let actorH;
      let criticH;
      if (net.shared) {
        actorH = criticH = tower("trunk", x);
      } else {
        actorH = tower("actor", x);
        criticH = hasValue ? tower("critic", x) : null;
      }
      const head = apply(layers.actor_out, actorH);
      const value = hasValue ? apply(layers.critic_out, criticH)[0] : NaN;
      if (continuous) {
        if (actorHead === "squashed") {
          const std = head.slice(k).map((v) => Math.min(Math.max(v, -20), 2));
          return { mean: head.slice(0, k), logStd: std, value };
        }
        return { mean: head, logStd, value };
      }
      const top = Math.max(...head);
      const z = head.map((v) => Math.exp(v - top));
      const total = z.reduce((a, b) => a + b, 0);
      return { logits: head, probabilities: z.map((v) => v / total), value };
    }

    /** The env's action for a forward pass: greedy (argmax, or the mean) or sampled. */
    function act(out, greedy, rand) {
      if (!continuous) {
        if (greedy) return out.logits.indexOf(Math.max(...out.logits));
        const u = rand();
        let cdf = 0;
        for (let i = 0; i < out.probabilities.length; i++) {
          cdf += out.probabilities[i];
          if (u <= cdf) return i;
        }
        return out.probabilities.length - 1;
      }
      // clipped in float64, then float32 (the numpy Policy's continuous actions)
      return out.mean.map((mean, i) => {
        const noise = greedy ? 0 : Math.exp(out.logStd[i]) * normal(rand);
        let a = mean + noise;
        if (actorHead === "squashed") a = scaled(Math.tanh(a), i);
        if (actorHead === "deterministic") {
          a = scaled(Math.min(Math.max(Math.tanh(mean) + noise, -1), 1), i);
        }
        return f32(Math.min(Math.max(a, low[i]), high[i]));
      });
    }

    return {
      forward,
      act,
      continuous,
      hasValue,
      actionSize: continuous ? low.length : space.n,
      space,
    };
  }

  function normal(rand) {
    const u = 1 - rand();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rand());
  }

  // --- one simulation: env + policy + episode bookkeeping -----------------------------------

  function createSimulation(data) {
    const envId = data.env_id;
    const physics = data.physics;
    if (!Object.prototype.hasOwnProperty.call(PHYSICS, physics)) {
      throw new Error(`poleax live: no dynamics named ${physics} (for ${envId})`);
    }
    const env = PHYSICS[physics](data.max_steps);
    env.actionLabels = data.action_names || [];
    const policy = makePolicy(data.policy);
    const sim = {
      envId,
      env,
      policy,
      greedy: true,
      rand: makeRandom(data.seed === undefined ? 1 : data.seed + 1),
      state: null,
      steps: 0,
      episodeReturn: 0,
      episodes: 0,
      done: false,
      lastAction: null,
      lastOutput: null,
    };
    sim.setState = (s) => {
      sim.state = Array.from(s, Number);
      sim.steps = 0;
      sim.episodeReturn = 0;
      sim.done = false;
      sim.lastAction = null;
      sim.lastOutput = policy.forward(env.observe(sim.state));
    };
    sim.reset = () => {
      sim.episodes += 1;
      sim.setState(env.reset(sim.rand));
    };
    sim.observation = () => env.observe(sim.state);
    /** One step: the policy's action (or ``action`` when given), then the physics. */
    sim.step = (action) => {
      const out = sim.lastOutput; // the policy's output for the current state
      if (action === undefined || action === null) action = policy.act(out, sim.greedy, sim.rand);
      const result = env.step(sim.state, action);
      sim.state = result.state;
      sim.steps += 1;
      sim.episodeReturn += result.reward;
      const truncated = !result.terminated && sim.steps >= env.maxSteps;
      sim.done = result.terminated || truncated;
      sim.lastAction = action;
      sim.lastOutput = policy.forward(env.observe(sim.state));
      return {
        action,
        reward: result.reward,
        terminated: result.terminated,
        truncated,
        state: sim.state.slice(),
        value: out.value,
      };
    };
    sim.push = (dir) => {
      sim.state = env.push(sim.state, dir > 0 ? 1 : -1);
      sim.lastOutput = policy.forward(env.observe(sim.state));
    };
    sim.reset();
    return sim;
  }

  // --- the page: canvas, controls, bars -----------------------------------------------------

  function el(tag, attrs, text) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function mount(root, data) {
    const sim = createSimulation(data);
    const canvas = root.querySelector("#live-canvas");
    const ctx = canvas.getContext("2d");
    const stepEl = root.querySelector("#live-step");
    const returnEl = root.querySelector("#live-return");
    const episodeEl = root.querySelector("#live-episode");
    const barsEl = root.querySelector("#live-bars");
    const playButton = root.querySelector("#live-play");
    const speedSelect = root.querySelector("#live-speed");
    const modeSelect = root.querySelector("#live-mode");
    const frameSeconds = 1 / data.fps;
    let playing = true;
    let speed = Number(speedSelect.value);
    let accumulated = 0;
    let lastTime = null;
    let holdUntil = 0;
    let pushMark = null;
    let valueScale = 1e-9;

    const bars = [];
    const addBar = (label, cls) => {
      const row = el("div", { class: "live-row" });
      row.append(el("span", { class: "live-label" }, label));
      const track = el("span", { class: "live-track" });
      const fill = el("span", { class: `live-fill ${cls}` });
      track.append(fill);
      const num = el("span", { class: "live-num" });
      row.append(track, num);
      barsEl.append(row);
      return { row, fill, num };
    };
    if (sim.policy.continuous) {
      const space = sim.policy.space;
      barsEl.append(el("p", { class: "live-caption" }, "actor: mean action"));
      space.low.forEach((_, i) => bars.push(addBar(`a${space.low.length > 1 ? i : ""}`, "mean")));
    } else {
      barsEl.append(el("p", { class: "live-caption" }, "actor: action probabilities"));
      const labels = sim.env.actionLabels || [];
      for (let i = 0; i < sim.policy.actionSize; i++) bars.push(addBar(labels[i] || `${i}`, "prob"));
    }
    // sac, td3 and ddpg deliver no state-value critic (theirs are Q networks): no bar.
    const valueBar = sim.policy.hasValue ? addBar("V(s)", "value") : null;
    if (valueBar) valueBar.row.before(el("p", { class: "live-caption" }, "critic: V(s)"));

    function showBars() {
      const out = sim.lastOutput;
      if (sim.policy.continuous) {
        const space = sim.policy.space;
        const greedy = sim.policy.act(out, true, sim.rand);
        out.mean.forEach((mean, i) => {
          const lo = space.low[i];
          const hi = space.high[i];
          const clipped = greedy[i];
          const zero = Math.min(Math.max(-lo / (hi - lo), 0), 1);
          const at = (clipped - lo) / (hi - lo);
          bars[i].fill.style.left = `${100 * Math.min(zero, at)}%`;
          bars[i].fill.style.width = `${100 * Math.abs(at - zero)}%`;
          const shown = sim.policy.hasValue ? mean : greedy[i];
          bars[i].num.textContent = `${shown.toFixed(2)} ± ${Math.exp(out.logStd[i]).toFixed(2)}`;
        });
      } else {
        const chosen = sim.policy.act(out, true, sim.rand);
        out.probabilities.forEach((p, i) => {
          bars[i].fill.style.left = "0";
          bars[i].fill.style.width = `${100 * p}%`;
          bars[i].row.classList.toggle("live-chosen", i === chosen);
          bars[i].num.textContent = p.toFixed(2);
        });
      }
      if (!valueBar) return;
      valueScale = Math.max(valueScale, Math.abs(out.value));
      const half = (50 * Math.abs(out.value)) / valueScale;
      valueBar.fill.style.left = `${out.value >= 0 ? 50 : 50 - half}%`;
      valueBar.fill.style.width = `${half}%`;
      valueBar.num.textContent = out.value.toFixed(2);
    }

    function show() {
      ctx.clearRect(0, 0, canvas.width, canvas.height);
      ctx.fillStyle = "#fff";
      ctx.fillRect(0, 0, canvas.width, canvas.height);
      sim.env.draw(ctx, sim.state, canvas.width, canvas.height, sim.lastAction);
      if (pushMark && pushMark.frames > 0) {
        const x = sim.env.screenX(sim.state, canvas.width, canvas.height);
        arrow(ctx, x - pushMark.dir * 60, 40, pushMark.dir, 40);
        pushMark.frames -= 1;
      }
      stepEl.textContent = String(sim.steps);
      returnEl.textContent = String(Math.round(sim.episodeReturn * 100) / 100);
      episodeEl.textContent = String(sim.episodes);
      showBars();
    }

    function advance() {
      if (sim.done) {
        sim.reset();
        return;
      }
      sim.step();
    }

    // A timer, not requestAnimationFrame: the env's clock sets the pace, and timers also
    // run in a headless browser's virtual time.
    function frame() {
      const time = performance.now();
      if (lastTime === null) lastTime = time;
      const elapsed = Math.min((time - lastTime) / 1000, 0.25);
      lastTime = time;
      if (playing && time >= holdUntil) {
        accumulated += elapsed * speed;
        let steps = 0;
        while (accumulated >= frameSeconds && steps < 16) {
          accumulated -= frameSeconds;
          steps += 1;
          advance();
          if (sim.done) {
            holdUntil = time + 600;
            accumulated = 0;
            break;
          }
        }
        if (steps > 0) show();
      }
      window.setTimeout(frame, Math.max(1000 * frameSeconds / speed, 8));
    }

    function setPlaying(value) {
      playing = value;
      playButton.textContent = playing ? "pause" : "play";
      accumulated = 0;
    }

    function push(dir) {
      if (sim.done) return;
      sim.push(dir);
      pushMark = { dir: dir > 0 ? 1 : -1, frames: 10 };
      show();
    }

    playButton.addEventListener("click", () => setPlaying(!playing));
    root.querySelector("#live-reset").addEventListener("click", () => {
      sim.reset();
      holdUntil = 0;
      show();
    });
    speedSelect.addEventListener("change", () => {
      speed = Number(speedSelect.value);
    });
    modeSelect.addEventListener("change", () => {
      sim.greedy = modeSelect.value === "greedy";
    });
    root.querySelector("#live-push-left").addEventListener("click", () => push(-1));
    root.querySelector("#live-push-right").addEventListener("click", () => push(1));
    canvas.addEventListener("click", (event) => {
      const rect = canvas.getBoundingClientRect();
      const x = ((event.clientX - rect.left) * canvas.width) / rect.width;
      push(x >= sim.env.screenX(sim.state, canvas.width, canvas.height) ? 1 : -1);
    });
    // Arrow keys push while the canvas is on screen (elsewhere they scroll the page).
    document.addEventListener("keydown", (event) => {
      const tag = event.target && event.target.tagName;
      if (tag === "SELECT" || tag === "INPUT" || tag === "TEXTAREA") return;
      const box = canvas.getBoundingClientRect();
      if (box.bottom < 0 || box.top > window.innerHeight) return;
      if (event.key === "ArrowLeft" || event.key === "ArrowRight") {
        event.preventDefault();
        push(event.key === "ArrowLeft" ? -1 : 1);
      }
    });

    show();
    window.setTimeout(frame, 0);

    return {
      pause: () => setPlaying(false),
      play: () => setPlaying(true),
      get playing() {
        return playing;
      },
      setState(s) {
        sim.setState(s);
        show();
      },
      state: () => sim.state.slice(),
      observation: () => sim.observation(),
      output: () => sim.lastOutput,
      step(action) {
        const info = sim.step(action);
        show();
        return info;
      },
      /** Up to ``n`` steps, ending with the episode; the states after each. */
      run(n) {
        const states = [];
        for (let i = 0; i < n && !sim.done; i++) states.push(sim.step().state);
        show();
        return states;
      },
      push,
      reset() {
        sim.reset();
        show();
      },
      setGreedy(value) {
        sim.greedy = Boolean(value);
        modeSelect.value = sim.greedy ? "greedy" : "sampled";
      },
      get steps() {
        return sim.steps;
      },
      get episodeReturn() {
        return sim.episodeReturn;
      },
      get done() {
        return sim.done;
      },
    };
  }

  const api = { create: createSimulation, physics: Object.keys(PHYSICS) };
  window.poleaxLive = api;
  const root = document.getElementById("live");
  const source = document.getElementById("live-data");
  if (root && source) {
    const page = mount(root, JSON.parse(source.textContent));
    Object.defineProperties(api, Object.getOwnPropertyDescriptors(page));
  }
})();
