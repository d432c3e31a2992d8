/**
 * SVG charts drawn with d3-node: line charts (completion CDF, time series), bar charts (origin
 * egress) and a heatmap (sweeps). Plain SVG, readable in a browser or embedded in Markdown.
 */
import { D3Node } from 'd3-node';

const WIDTH = 720;
const HEIGHT = 420;
const MARGIN = { top: 40, right: 160, bottom: 50, left: 80 };
const COLOURS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f'];
const STYLES = 'text { font: 12px sans-serif; } .title { font: bold 14px sans-serif; }';

export interface Series { name: string; points: { x: number; y: number }[] }

function frame(title: string, xLabel: string, yLabel: string) {
  const d3n = new D3Node({ styles: STYLES });
  const svg = d3n.createSVG(WIDTH, HEIGHT);
  svg.append('rect').attr('width', WIDTH).attr('height', HEIGHT).attr('fill', 'white');
  svg.append('text').attr('class', 'title').attr('x', MARGIN.left).attr('y', 24).text(title);
  svg.append('text').attr('x', MARGIN.left + (WIDTH - MARGIN.left - MARGIN.right) / 2).attr('y', HEIGHT - 10)
    .attr('text-anchor', 'middle').text(xLabel);
  svg.append('text').attr('transform', `translate(18,${MARGIN.top + (HEIGHT - MARGIN.top - MARGIN.bottom) / 2}) rotate(-90)`)
    .attr('text-anchor', 'middle').text(yLabel);
  const plot = svg.append('g').attr('transform', `translate(${MARGIN.left},${MARGIN.top})`);
  return { d3n, d3: d3n.d3, plot, w: WIDTH - MARGIN.left - MARGIN.right, h: HEIGHT - MARGIN.top - MARGIN.bottom };
}

export function lineChart(title: string, xLabel: string, yLabel: string, series: Series[], logX = false): string {
  const { d3n, d3, plot, w, h } = frame(title, xLabel, yLabel);
  const xs = series.flatMap((s) => s.points.map((p) => p.x));
  const ys = series.flatMap((s) => s.points.map((p) => p.y));
  const xMin = logX ? Math.max(1e-3, Math.min(...xs)) : 0;
  const x = (logX ? d3.scaleLog() : d3.scaleLinear()).domain([xMin, Math.max(xMin * 10, ...xs, 1e-9)]).range([0, w]).nice();
  const y = d3.scaleLinear().domain([0, Math.max(...ys, 1e-9)]).range([h, 0]).nice();
  plot.append('g').attr('transform', `translate(0,${h})`).call(d3.axisBottom(x).ticks(8, logX ? '~g' : undefined));
  plot.append('g').call(d3.axisLeft(y).ticks(8));
  series.forEach((s, i) => {
    const line = d3.line().x((p: { x: number }) => x(Math.max(xMin, p.x))).y((p: { y: number }) => y(p.y));
    plot.append('path').datum(s.points).attr('fill', 'none').attr('stroke', COLOURS[i % COLOURS.length])
      .attr('stroke-width', 2).attr('d', line);
    plot.append('text').attr('x', w + 10).attr('y', 14 + i * 18).attr('fill', COLOURS[i % COLOURS.length]).text(s.name);
  });
  return d3n.svgString();
}

export function barChart(title: string, yLabel: string, bars: { name: string; value: number }[]): string {
  const { d3n, d3, plot, w, h } = frame(title, '', yLabel);
  const x = d3.scaleBand().domain(bars.map((b) => b.name)).range([0, w]).padding(0.3);
  const y = d3.scaleLinear().domain([0, Math.max(...bars.map((b) => b.value), 1e-9)]).range([h, 0]).nice();
  plot.append('g').attr('transform', `translate(0,${h})`).call(d3.axisBottom(x));
  plot.append('g').call(d3.axisLeft(y).ticks(8));
  bars.forEach((b, i) => {
    plot.append('rect').attr('x', x(b.name)).attr('y', y(b.value)).attr('width', x.bandwidth())
      .attr('height', h - y(b.value)).attr('fill', COLOURS[i % COLOURS.length]);
    plot.append('text').attr('x', x(b.name) + x.bandwidth() / 2).attr('y', y(b.value) - 4).attr('text-anchor', 'middle')
      .text(b.value.toPrecision(3));
  });
  return d3n.svgString();
}

/** Cells of (row, column) -> value; higher values are drawn darker. */
export function heatmap(title: string, rowLabel: string, columnLabel: string, cells: { row: string; column: string; value: number }[]): string {
  const { d3n, d3, plot, w, h } = frame(title, columnLabel, rowLabel);
  const rows = [...new Set(cells.map((c) => c.row))];
  const columns = [...new Set(cells.map((c) => c.column))];
  const x = d3.scaleBand().domain(columns).range([0, w]).padding(0.05);
  const y = d3.scaleBand().domain(rows).range([0, h]).padding(0.05);
  const values = cells.map((c) => c.value);
  const colour = d3.scaleSequential(d3.interpolateViridis).domain([Math.min(...values), Math.max(...values) + 1e-12]);
  plot.append('g').attr('transform', `translate(0,${h})`).call(d3.axisBottom(x));
  plot.append('g').call(d3.axisLeft(y));
  for (const c of cells) {
    plot.append('rect').attr('x', x(c.column)).attr('y', y(c.row)).attr('width', x.bandwidth()).attr('height', y.bandwidth())
      .attr('fill', colour(c.value));
    plot.append('text').attr('x', x(c.column) + x.bandwidth() / 2).attr('y', y(c.row) + y.bandwidth() / 2 + 4)
      .attr('text-anchor', 'middle').attr('fill', c.value > (Math.min(...values) + Math.max(...values)) / 2 ? 'black' : 'white')
      .text(c.value.toFixed(3));
  }
  return d3n.svgString();
}

/**
 * Stacked bars: one bar per group (e.g. swarm size), split into the named parts (e.g. where the
 * time went); parts are drawn bottom-up in the order given, with a legend.
 */
export function stackedBarChart(title: string, xLabel: string, yLabel: string, parts: string[],
  bars: { name: string; values: number[] }[]): string {
  const { d3n, d3, plot, w, h } = frame(title, xLabel, yLabel);
  const x = d3.scaleBand().domain(bars.map((b) => b.name)).range([0, w]).padding(0.3);
  const totals = bars.map((b) => b.values.reduce((a, v) => a + Math.max(0, v), 0));
  const y = d3.scaleLinear().domain([0, Math.max(...totals, 1e-9)]).range([h, 0]).nice();
  plot.append('g').attr('transform', `translate(0,${h})`).call(d3.axisBottom(x));
  plot.append('g').call(d3.axisLeft(y).ticks(8));
  bars.forEach((b, i) => {
    let base = 0;
    b.values.forEach((v, p) => {
      const height = Math.max(0, v);
      plot.append('rect').attr('x', x(b.name)).attr('y', y(base + height)).attr('width', x.bandwidth())
        .attr('height', y(base) - y(base + height)).attr('fill', COLOURS[p % COLOURS.length]);
      base += height;
    });
    plot.append('text').attr('x', x(b.name) + x.bandwidth() / 2).attr('y', y(totals[i]) - 4).attr('text-anchor', 'middle')
      .text(totals[i].toPrecision(3));
  });
  parts.forEach((part, p) => {
    plot.append('text').attr('x', w + 10).attr('y', 14 + p * 18).attr('fill', COLOURS[p % COLOURS.length]).text(part);
  });
  return d3n.svgString();
}
