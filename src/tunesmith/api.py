"""The public Python API: `Composer.load()` then `composer("prompt", seconds=45)`."""

from __future__ import annotations

import logging
import math
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import symusic

from .arrange.arranger import arrange
from .arrange.library import find_style
from .arrange.plan import ArrangementPlan, plan_for
from .conditioning.chords import chords_for_bars, looks_roman, parse_progression
from .conditioning.controls import Controls, meter_control, normalize_key
from .conditioning.instruments import one_program
from .conditioning.limits import BARS, CANDIDATES, DEFAULT_METER, DEFAULT_TEMPO, TEMPO, VOICES
from .conditioning.prompt import apply_overrides, parse_prompt
from .errors import BadInputError, CheckpointError, TunesmithError
from .generate import parts
from .generate.backends import Backend, load_backend
from .generate.engine import Engine, GenerationResult
from .generate.reprise import CopyGate
from .generate.sampling import SamplingConfig
from .model.folder import model_styles, resolve_model_dir
from .music.chords import Chord, ChordSpan, analyse_chords
from .music.keys import key_of_signature
from .music.voice_leading import voice_leading_faults
from .render.audio import AudioOptions
from .render.performance import check_options as check_performance
from .render.piece import Piece
from .tokens.tokenizer import MusicTokenizer

if TYPE_CHECKING:  # PyTorch is optional: the ONNX backend generates without it
    from .model.transformer import MusicTransformer

log = logging.getLogger(__name__)

MAX_CANDIDATES = int(CANDIDATES.high)  # the bound of conditioning/limits.py


def seconds_to_bars(seconds: float, tempo: float, meter: str) -> int:
    """Bars needed for `seconds` of music at `tempo` (quarter notes/min) in `meter`."""
    return max(1, math.ceil(seconds * tempo / 60.0 / _quarters_per_bar(meter) - 1e-6))


def _signature_key(score: symusic.Score) -> str | None:
    """The key of a file's first key signature, when it has one."""
    if not len(score.key_signatures):
        return None
    ks = score.key_signatures[0]
    return key_of_signature(int(ks.key), int(ks.tonality))


def _quarters_per_bar(meter: str) -> float:
    num, den = (int(x) for x in meter.split("/"))
    return num * 4 / den


class Composer:
    """A loaded model with its tokenizer, ready to turn prompts into `Piece`s."""

    def __init__(
        self,
        model: MusicTransformer | Backend,
        tokenizer: MusicTokenizer,
        path: Path | None = None,
        gate: CopyGate | None = None,
        styles: dict[str, str] | None = None,
    ):
        self.tokenizer = tokenizer
        self.path = path
        self.engine = Engine(model, tokenizer, gate)
        self.backend: Backend = self.engine.backend
        self._model = getattr(self.backend, "model", None)
        # the model's own prompt words (a fine-tuned style): word -> the style control
        self.styles: dict[str, str] = dict(styles or {})

    @classmethod
    def load(
        cls,
        path: str | Path | None = None,
        device: str | None = None,
        backend: str = "auto",
        threads: int | None = None,
    ) -> Composer:
        """Load a model folder, a training run folder, or (no argument) the shipped model.

        `backend`: "onnx" (ONNX Runtime, no PyTorch needed), "torch", or "auto" (ONNX when
        it is installed and the folder holds an up-to-date model.onnx); a `device` other
        than the CPU means PyTorch. `threads`: the backend's intra-op threads.
        """
        folder = resolve_model_dir(path)
        if device not in (None, "cpu"):
            if backend == "onnx":
                raise BadInputError("the onnx backend runs on the CPU; choose the torch backend")
            from .generate.torch_backend import TorchBackend
            from .model.transformer import MusicTransformer

            chosen: Backend = TorchBackend(MusicTransformer.load(folder, device=device), threads)
        else:
            chosen = load_backend(folder, backend, threads)
        tokenizer = MusicTokenizer.load(folder)
        if tokenizer.vocab_size != chosen.cfg.vocab_size:
            raise CheckpointError(f"tokenizer and model in {str(folder)!r} do not match")
        return cls(chosen, tokenizer, folder, CopyGate.load(folder), model_styles(folder))

    @property
    def model(self) -> MusicTransformer:
        """The PyTorch model: the backend's own, or loaded from the folder on first use
        (training, studies and exports need it; generation does not). Needs PyTorch."""
        if self._model is None:
            if self.path is None:
                raise TunesmithError("this Composer has no model folder to load PyTorch from")
            from .model.transformer import MusicTransformer

            self._model = MusicTransformer.load(self.path)
        return self._model

    def finetune(
        self,
        folder: str | Path,
        name: str,
        *,
        captions: str | Path | None = None,
        minutes: float | None = None,
        style_name: str | None = None,
        resume: bool = False,
        overwrite: bool = False,
        workers: int | None = None,
        progress=None,
        adapter: str | None = None,
    ) -> Composer:
        """This model fine-tuned on the MIDI files in `folder` (10-200 pieces of one style),
        saved as the user model `name` and loaded: `Composer.load(name)` and `--model name`
        find it again. `style_name` (default: `name`) becomes a prompt word for the style;
        `minutes` of training (default 15), stopped early when the held-out pieces stop
        improving; `captions`: a MidiCaps-style file; `resume`: continue an interrupted
        fine-tune of that name; `overwrite`: replace a model of that name (only once the
        new one is complete); `adapter`: "full" (every weight, the default) or "lora"
        (low-rank adapters, merged when saved). `progress(stage, done, total, info)`. See
        docs/FINETUNE.md."""
        from .training.finetune import finetune

        if self.path is None:
            raise ValueError("fine-tuning starts from a model folder: load the Composer from one")
        result = finetune(
            folder, name, self.path, captions, minutes, style_name, resume, overwrite, workers,
            progress, adapter,
        )  # fmt: skip
        if not result.saved:
            raise TunesmithError(
                f"the fine-tune {name!r} stopped before its first validation: nothing was saved"
                " (resume it to continue)"
            )
        device = str(next(self.model.parameters()).device)
        return Composer.load(result.path, device=device)

    # -- conditions --------------------------------------------------------------------
    def controls_for(self, prompt: str = "", **attributes) -> Controls:
        """Controls from the prompt text with explicit attributes taking precedence.

        `seconds` becomes bars at the (requested or default) tempo and meter, which are
        then enforced so the length holds.
        """
        parsed = parse_prompt(prompt or "", self.styles)
        seconds = attributes.pop("seconds", None)
        controls = apply_overrides(
            parsed.controls, seconds=seconds, styles=self.styles, **attributes
        )
        seconds = controls.extra.get("seconds")
        if seconds is not None and controls.bars is None:
            if controls.tempo is None:
                controls.tempo = DEFAULT_TEMPO
            if controls.meter is None:
                controls.meter = DEFAULT_METER
            controls.bars = seconds_to_bars(float(seconds), controls.tempo, controls.meter)
            if controls.bars > BARS.high:  # say it in the unit the user used
                longest = BARS.high * 60.0 / controls.tempo * _quarters_per_bar(controls.meter)
                raise BadInputError(
                    f"{float(seconds):g} s is {controls.bars} bars at {controls.tempo:g} bpm in "
                    f"{controls.meter}; at most {BARS.high:g} bars ({longest:.0f} s) can be "
                    "generated",
                    field="seconds",
                )
        return controls.validated()

    @staticmethod
    def sampling_for(
        preset: str | None = None,
        temperature: float | None = None,
        top_k: int | None = None,
        top_p: float | None = None,
        repetition_penalty: float | None = None,
        cfg: float | None = None,
        seed: int | None = None,
        max_bars: int | None = None,
        key_guidance: float | None = None,
    ) -> SamplingConfig:
        """Sampling settings: a preset (or the defaults) with the given values on top."""
        base = SamplingConfig.from_preset(preset) if preset else SamplingConfig()
        changes = {
            "temperature": temperature,
            "top_k": top_k,
            "top_p": top_p,
            "repetition_penalty": repetition_penalty,
            "cfg_scale": cfg,
            "seed": seed,
            "max_bars": max_bars,
            "key_guidance": key_guidance,
        }
        return base.with_(**{k: v for k, v in changes.items() if v is not None}).validated()

    # -- generation --------------------------------------------------------------------
    def generate(
        self,
        prompt: str = "",
        *,
        candidates: int = 1,
        preset: str | None = None,
        temperature: float | None = None,
        top_k: int | None = None,
        top_p: float | None = None,
        repetition_penalty: float | None = None,
        cfg: float | None = None,
        seed: int | None = None,
        key_guidance: float | None = None,
        chords: str | None = None,
        arrangement: str = "auto",
        performance: str = "auto",
        humanize: float = 0.0,
        progress=None,
        **attributes,
    ) -> Piece:
        """One piece for a prompt; attributes: key, meter, tempo, instruments, bars,
        seconds, style. With candidates > 1, the best by the scorer is returned.
        `key_guidance` scales the pull toward a requested key (0: off). `chords`: a
        progression ("Am F C G", "I IV V I" in the key, bars by '|') that repeats to the
        piece's length; the music is pulled toward it. `arrangement`: "auto" adds a band
        from the groove library when the prompt asks for one ("a bossa nova", "a pop
        band"), "none" never does, a style name (`tunesmith styles`) always does; the
        model then writes the melody and the library the drums, bass and comping.
        `performance`: "auto" plays the piece in its style (dynamics, accents, ghost notes,
        swing, articulation, pedal; render/performance.py), "none" leaves it as written;
        `humanize`: onsets move by up to this many ms (seeded; 0: on the grid)."""
        check_performance(performance, humanize)
        controls = self.controls_for(prompt, **attributes)
        sampling = self.sampling_for(
            preset, temperature, top_k, top_p, repetition_penalty, cfg, seed,
            key_guidance=key_guidance,
        )  # fmt: skip
        controls, progression = self.progression_for(controls, chords)
        controls, plan = self.arrangement_for(controls, prompt, arrangement, progression)
        piece = self.generate_with(controls, sampling, prompt, candidates, progress, progression)
        return self.performed(self.arranged(piece, plan), plan, performance, humanize, seed)

    def arrangement_for(
        self,
        controls: Controls,
        prompt: str = "",
        arrangement: str | None = "auto",
        progression: list[list[Chord]] | None = None,
    ) -> tuple[Controls, ArrangementPlan | None]:
        """The arrangement a request asks for (None: none) and the controls the model then
        gets: only the melody's instruments (the band comes from the library), and the
        style's meter and tempo where the request gives none."""
        plan = plan_for(controls, prompt, arrangement, requested_chords=progression is not None)
        if plan is None:
            return controls, None
        controls = replace(
            controls,
            instruments=plan.model_instruments[: int(VOICES.high)],
            meter=controls.meter or plan.meter,
            tempo=controls.tempo if controls.tempo is not None else plan.tempo,
        )
        return controls.validated(), plan

    @staticmethod
    def arranged(piece: Piece, plan: ArrangementPlan | None) -> Piece:
        """The piece with the plan's band added (drums, bass, comping, pads from the groove
        library, on `piece.chord_spans()`); the model's tracks are kept as they are."""
        if plan is None:
            return piece
        piece.score = arrange(
            piece.score, piece.chord_spans(), plan.style, plan.meter, plan.tempo,
            roles=plan.library_roles(),
        )  # fmt: skip
        return piece

    @staticmethod
    def performed(
        piece: Piece,
        plan: ArrangementPlan | None = None,
        performance: str = "auto",
        humanize: float = 0.0,
        seed: int | None = None,
    ) -> Piece:
        """The piece as played (`Piece.performed`), in the plan's style (its swing ratio
        is the groove library's) or else the controls' style; "none": as written."""
        style = find_style(plan.style) if plan is not None else None
        return piece.performed(performance, humanize, seed or 0, style)

    def generate_with(
        self,
        controls: Controls,
        sampling: SamplingConfig,
        prompt: str = "",
        candidates: int = 1,
        progress=None,
        chords: list[list[Chord]] | None = None,
    ) -> Piece:
        """Generate from already-resolved controls, sampling settings and progression."""
        CANDIDATES.check(candidates, field="candidates")
        results = self.engine.generate(
            controls, prompt, candidates, sampling, progress=progress, chords=chords
        )
        return self._best(results, controls, prompt, chords)

    def progression_for(
        self, controls: Controls, chords: str | None = None
    ) -> tuple[Controls, list[list[Chord]] | None]:
        """The progression a request asks for: `chords` if given, else one named in the
        prompt (the parser keeps it in `controls.extra["chords"]`). Roman numerals with
        no key give the piece a key: C major, or A minor when the first numeral is minor."""
        chords = chords or controls.extra.get("chords")
        if not chords:
            return controls, None
        words = chords.replace("|", " ").split()
        if controls.key is None and words and looks_roman(words[0]):
            first = words[0].lstrip("b#♭♯")
            controls = replace(controls, key="A minor" if first[:1].islower() else "C major")
        return controls, self.progression(chords, controls.key)

    @staticmethod
    def progression(chords: str, key: str | None = None) -> list[list[Chord]]:
        """A progression string as bars of chords (Roman numerals are read in `key`)."""
        try:
            return parse_progression(chords, key)
        except BadInputError as e:
            raise BadInputError(str(e), field="chords") from None

    __call__ = generate

    def continue_midi(
        self,
        midi: str | Path | symusic.Score,
        bars: int,
        prompt: str = "",
        *,
        candidates: int = 1,
        preset: str | None = None,
        temperature: float | None = None,
        top_k: int | None = None,
        top_p: float | None = None,
        repetition_penalty: float | None = None,
        cfg: float | None = None,
        seed: int | None = None,
        key_guidance: float | None = None,
        section: str | None = None,
        chords: str | None = None,
        arrangement: str = "none",
        performance: str = "auto",
        humanize: float = 0.0,
        progress=None,
    ) -> Piece:
        """Keep the input's bars exactly and continue to `bars` bars in total, in its
        meter (its last bar's, where it changes), tempo and instruments (the prompt may add
        style or other attributes). `section`: "A" brings the input back (its bars are the
        reprise gate's theme, bar by bar), "B" asks for a contrast to it; None: a plain
        continuation. `chords`: a progression counted from the input's first bar (as in
        `generate`).
        `arrangement`: "none" (default), "auto" or a style name: a band from the groove
        library under the whole result, the input's parts kept as the melody.
        `performance` and `humanize` as in `generate` (the input's notes are played too)."""
        from .music.metrics import compute_metrics, load_midi

        check_performance(performance, humanize)
        if arrangement.strip().lower() not in ("auto", "none"):
            find_style(arrangement)  # an unknown style costs no work

        if section is not None and section not in ("A", "B"):
            raise BadInputError(
                f"unknown section {section!r}; use A (the theme again) or B", field="section"
            )
        BARS.check(bars, field="bars")
        CANDIDATES.check(candidates, field="candidates")
        # Checked before the MIDI is read, so a typo costs no work.
        sampling = self.sampling_for(
            preset, temperature, top_k, top_p, repetition_penalty, cfg, seed,
            key_guidance=key_guidance,
        )  # fmt: skip
        score = midi if isinstance(midi, symusic.Score) else load_midi(midi)
        piece_in = self.tokenizer.encode_music(score)
        music = [int(i) for i in piece_in.ids]
        given_bars = len(piece_in.bar_starts)
        if bars <= given_bars:
            raise BadInputError(
                f"bars ({bars}) must be larger than the input's {given_bars} bars", field="bars"
            )
        parsed = parse_prompt(prompt or "", self.styles)
        tracks = [t for t in score.tracks if len(t.notes)]
        meters = self.engine.grammar.bar_meters(music)  # the new bars go on in the last
        tempo = float(score.tempos[0].qpm) if len(score.tempos) else DEFAULT_TEMPO
        key = parsed.controls.key or _signature_key(score) or compute_metrics(score).get("key")
        input_controls = Controls(
            meter=meter_control(meters),
            tempo=min(max(tempo, TEMPO.low), TEMPO.high),
            instruments=[-1 if t.is_drum else int(t.program) for t in tracks][: int(VOICES.high)],
            key=key,
            bars=bars,
            style=parsed.controls.style,
            section=section,
        )
        controls = input_controls.validated()
        progression = self.progression(chords, controls.key) if chords else None
        plan = plan_for(
            controls, prompt, arrangement, melody=[p for p in controls.instruments or [] if p >= 0],
            requested_chords=progression is not None,
        )  # fmt: skip
        # The input's tokens are kept exactly; the grammar state is advanced over them and
        # generation continues until `bars` bars exist in total.
        results = self.engine.generate(
            controls, prompt, candidates, sampling, prompt_music=music, progress=progress,
            theme=music if section else None, chords=progression, meters=meters,
        )  # fmt: skip
        piece = self.arranged(self._best(results, controls, prompt, progression), plan)
        return self.performed(piece, plan, performance, humanize, seed)

    def generate_long(
        self,
        prompt: str = "",
        *,
        chunks: int = 8,
        chunk_bars: int = 16,
        overlap: int | None = None,
        candidates: int = 4,
        mode: str | None = None,
        form: str | None = None,
        recall_bars: int = 0,
        preset: str | None = None,
        temperature: float | None = None,
        top_k: int | None = None,
        top_p: float | None = None,
        repetition_penalty: float | None = None,
        cfg: float | None = None,
        seed: int | None = None,
        key_guidance: float | None = None,
        arrangement: str = "none",
        performance: str = "auto",
        humanize: float = 0.0,
        progress=None,
        state_path: str | Path | None = None,
        **attributes,
    ):
        """A long piece: `chunks` chained chunks of `chunk_bars` new bars, the best of
        `candidates` kept for each (docs/LONGFORM.md). `mode` (chorale, quartet, invention,
        fugue, folk) fills in style, instruments and meter; `form` ('AABA', 'ABAB',
        'sonata', ...) makes one chunk per section, with the reprise gate bringing sections
        back. Returns (piece, per-chunk reports); `state_path` saves progress after every
        chunk so a rerun resumes. `arrangement`: "none" (default), "auto" or a style name,
        as in `generate`: the model writes the melody parts and the groove library's band is
        laid under the finished piece. `performance` and `humanize` as in `generate`."""
        from .generate.longform import LongFormSettings, apply_mode, compose_long

        check_performance(performance, humanize)
        if arrangement.strip().lower() not in ("auto", "none"):
            find_style(arrangement)  # an unknown style costs no work
        settings = LongFormSettings(
            chunks, chunk_bars, overlap, candidates, form, recall_bars
        ).validated()
        sampling = self.sampling_for(
            preset, temperature, top_k, top_p, repetition_penalty, cfg, seed,
            key_guidance=key_guidance,
        )  # fmt: skip
        parsed = self.controls_for(prompt, **attributes)
        # the mode fills in attributes; the parser's readings (roles, mood) stay for the
        # plan and the performance
        controls = replace(apply_mode(parsed, mode), extra=parsed.extra)
        controls, plan = self.arrangement_for(controls, prompt, arrangement)
        piece, reports = compose_long(
            self, prompt, controls, sampling, settings, progress, state_path
        )
        piece = self.arranged(piece, plan)
        return self.performed(piece, plan, performance, humanize, seed), reports

    # -- parts ---------------------------------------------------------------------------
    def harmonize(
        self,
        melody: str | Path | symusic.Score,
        *,
        voices: int = 4,
        style: str = "chorale",
        key: str | None = None,
        chords: str | None = None,
        prompt: str = "",
        candidates: int = 1,
        preset: str | None = None,
        temperature: float | None = None,
        top_k: int | None = None,
        top_p: float | None = None,
        repetition_penalty: float | None = None,
        cfg: float | None = None,
        seed: int | None = None,
        key_guidance: float | None = None,
        voice_guidance: float = 1.0,
    ) -> Piece:
        """Voices under a melody that is kept exactly as the top voice (`voices` in all,
        2-4; `style`: chorale, hymn, quartet, strings, madrigal, brass). A melody with
        chords in it is reduced to its top line; `piece.notice` says so. `voice_guidance`
        (0-5, 0 = off) keeps the new voices in order, in range and out of parallels while
        they are written (generate/voicing.py)."""
        sampling, score, key, progression = self._parts_inputs(
            melody, key, chords, candidates,
            dict(preset=preset, temperature=temperature, top_k=top_k, top_p=top_p,
                 repetition_penalty=repetition_penalty, cfg=cfg, seed=seed,
                 key_guidance=key_guidance),
        )  # fmt: skip
        sampling = sampling.with_(voice_guidance=voice_guidance).validated()
        req = parts.harmonize(
            self.engine, score, sampling, voices, style, key, progression, prompt, candidates
        )
        piece = self._best(req.results, req.controls, prompt, progression, voice_leading=True)
        piece.notice = req.notice
        return piece

    def add_part(
        self,
        midi: str | Path | symusic.Score,
        instrument: str | int,
        *,
        key: str | None = None,
        chords: str | None = None,
        prompt: str = "",
        candidates: int = 1,
        preset: str | None = None,
        temperature: float | None = None,
        top_k: int | None = None,
        top_p: float | None = None,
        repetition_penalty: float | None = None,
        cfg: float | None = None,
        seed: int | None = None,
        key_guidance: float | None = None,
    ) -> Piece:
        """A new part for `instrument` (a word such as "cello", a GM name or number)
        written against the piece's parts, which are all kept exactly."""
        program = one_program(str(instrument))
        sampling, score, key, progression = self._parts_inputs(
            midi, key, chords, candidates,
            dict(preset=preset, temperature=temperature, top_k=top_k, top_p=top_p,
                 repetition_penalty=repetition_penalty, cfg=cfg, seed=seed,
                 key_guidance=key_guidance),
        )  # fmt: skip
        req = parts.add_part(
            self.engine, score, program, sampling, key, progression, prompt, candidates
        )
        return self._best(req.results, req.controls, prompt, progression, voice_leading=True)

    def infill(
        self,
        midi: str | Path | symusic.Score,
        *,
        part: int | None = None,
        bars: str | tuple[int, int] | None = None,
        key: str | None = None,
        chords: str | None = None,
        prompt: str = "",
        candidates: int = 1,
        preset: str | None = None,
        temperature: float | None = None,
        top_k: int | None = None,
        top_p: float | None = None,
        repetition_penalty: float | None = None,
        cfg: float | None = None,
        seed: int | None = None,
        key_guidance: float | None = None,
    ) -> Piece:
        """Part `part` (1-based, in track order, counting tracks with notes) written anew
        against the other parts, which are kept exactly; or bars `bars` ("5-8", "5", or
        (5, 8), 1-based and inclusive) written anew with the music before and after them
        in view (a v2 model), every other bar kept exactly. Give one of the two."""
        if (part is None) == (bars is None):
            raise BadInputError("say what to write anew: a part or a span of bars (one of them)")
        span = parse_bars(bars) if bars is not None else None
        sampling, score, key, progression = self._parts_inputs(
            midi, key, chords, candidates,
            dict(preset=preset, temperature=temperature, top_k=top_k, top_p=top_p,
                 repetition_penalty=repetition_penalty, cfg=cfg, seed=seed,
                 key_guidance=key_guidance),
        )  # fmt: skip
        if span is not None:
            breq = parts.infill_bars(
                self.engine, score, *span, sampling, key, progression, prompt, candidates
            )
            piece = self._best(breq.results, breq.controls, prompt, progression, voice_leading=True)
            parts.close_seams(piece.score, breq.first, breq.last)
            return piece
        assert part is not None
        req = parts.rewrite_part(
            self.engine, score, part - 1, sampling, key, progression, prompt, candidates
        )
        return self._best(req.results, req.controls, prompt, progression, voice_leading=True)

    def _parts_inputs(
        self,
        midi: str | Path | symusic.Score,
        key: str | None,
        chords: str | None,
        candidates: int,
        sampling_options: dict[str, Any],
    ) -> tuple[SamplingConfig, symusic.Score, str | None, list[list[Chord]] | None]:
        """What harmonize, add_part and infill share: checked sampling and candidates
        (before the file is read), the score, the key asked for, and the progression
        (numerals read in that key, else in the piece's own)."""
        sampling = self.sampling_for(**sampling_options)
        CANDIDATES.check(candidates, field="candidates")
        score = self._score(midi)
        key = normalize_key(key) if key else None
        progression = self.progression(chords, key or compute_key(score)) if chords else None
        return sampling, score, key, progression

    @staticmethod
    def chords(midi: str | Path | symusic.Score, per: str = "bar") -> list[ChordSpan]:
        """The chord of every bar (or beat, `per="beat"`) of a piece."""
        if per not in ("bar", "beat"):
            raise BadInputError(f"per must be 'bar' or 'beat', not {per!r}", field="per")
        return analyse_chords(Composer._score(midi), per)

    @staticmethod
    def _score(midi: str | Path | symusic.Score) -> symusic.Score:
        from .music.metrics import load_midi

        return midi if isinstance(midi, symusic.Score) else load_midi(midi)

    def _best(
        self,
        results: list[GenerationResult],
        controls: Controls,
        prompt: str,
        chords: list[list[Chord]] | None = None,
        voice_leading: bool = False,
    ) -> Piece:
        """The best of the candidates by the scorer; with `voice_leading` (the parts
        operations, where voices are written against kept ones) first by the fewest
        voice-leading faults (parallels, crossings, spacing), then by the scorer. Before
        either, a candidate where every requested instrument plays a real part
        (music/parts.py) beats one where some part is a note or two."""
        pieces = [Piece.from_tokens(self.tokenizer, r.ids, controls, prompt) for r in results]
        if chords:
            bars = controls.bars or len(chords)
            for p in pieces:
                p.chords = chords_for_bars(chords, bars)
        if len(pieces) == 1:
            return pieces[0]
        from .generate.scorer import score_candidate

        scored = []
        for r, p in zip(results, pieces, strict=True):
            p.scores = score_candidate(p, r.logprob / max(1, r.n_sampled), controls)
            if voice_leading:
                p.scores["voice_leading_faults"] = float(voice_leading_faults(p.score))
            real = _requested_parts_real(p.score, controls.instruments)
            p.scores["requested_parts_real"] = float(real)
            rank = (real, -p.scores.get("voice_leading_faults", 0.0), p.scores["total"])
            scored.append((rank, p))
        return max(scored, key=lambda x: x[0])[1]

    # -- notebooks -----------------------------------------------------------------------
    def play(self, piece: Piece, sample_rate: int = 44100, audio: AudioOptions | None = None):
        """An IPython audio widget for the rendered piece (in notebooks); `audio`: its
        soundfont, reverb and loudness (`tunesmith.AudioOptions`)."""
        try:
            from IPython.display import Audio
        except ImportError:
            raise TunesmithError(
                "play() needs IPython (pip install 'tunesmith[notebook]'); use piece.save('x.wav')"
            ) from None

        sound = piece.audio(sample_rate, audio)
        data = sound.T if sound.ndim == 2 else sound
        return Audio(data, rate=sample_rate)


def _requested_parts_real(score: symusic.Score, instruments: list[int] | None) -> bool:
    """True when every requested instrument plays a real part (or none was requested)."""
    if not instruments:
        return True
    from .music.parts import real_programs

    return set(instruments) <= real_programs(score)


def parse_bars(bars: str | tuple[int, int]) -> tuple[int, int]:
    """A span of bars, 1-based and inclusive, from "5-8", "5" or (5, 8)."""
    if isinstance(bars, tuple):
        first, last = bars
    else:
        text = str(bars).strip()
        a, sep, b = text.partition("-")
        try:
            first = int(a)
            last = int(b) if sep else first
        except ValueError:
            raise BadInputError(
                f"bars must look like 5-8 or 5, not {text!r}", field="bars"
            ) from None
    if first < 1 or last < first:
        raise BadInputError(
            f"bars {first}-{last} are not a span of bars (1 = the first bar)", field="bars"
        )
    return first, last


def load(path: str | Path | None = None, device: str | None = None) -> Composer:
    """`tunesmith.load(path)`: a Composer for a model folder, a run folder or the default."""
    return Composer.load(path, device)


def compute_key(score: symusic.Score) -> str | None:
    """The key a piece is in, by the Krumhansl-Kessler estimate of its notes."""
    from .music.metrics import compute_metrics

    return compute_metrics(score).get("key")
